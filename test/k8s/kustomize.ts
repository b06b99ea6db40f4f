import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { findTool, requireTool } from './tools.ts';

export const ROOT = join(import.meta.dirname, '..', '..');
export const K8S = join(ROOT, 'k8s');

/** kubectl on PATH, or the one FENDER_KUBECTL names (to try another version). */
export const KUBECTL = findTool('kubectl', 'FENDER_KUBECTL');

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

export interface Build {
  readonly objects: K8sObject[];
  readonly stderr: string;
}

/** Runs `kubectl kustomize` on a folder under k8s/ and parses what it prints. */
export function kustomize(folder: string): Build {
  const kubectl = requireTool(
    KUBECTL,
    'kubectl',
    'install kubernetes-client (Debian) or any kubectl 1.20+',
  );
  const result = spawnSync(kubectl, ['kustomize', join(K8S, folder)], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (result.status !== 0)
    throw new Error(`kubectl kustomize k8s/${folder} failed: ${result.stderr}`);

  const objects = parseAllDocuments(result.stdout).map((doc) => doc.toJS() as K8sObject);

  return { objects, stderr: result.stderr };
}

/** Reads the `resources` list of a kustomization.yaml under k8s/. */
export function kustomizationResources(folder: string): string[] {
  const kustomization = parse(readFileSync(join(K8S, folder, 'kustomization.yaml'), 'utf8')) as {
    resources?: string[];
  };

  return kustomization.resources ?? [];
}

export function find(objects: readonly K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
  if (found === undefined)
    throw new Error(
      `no ${kind} ${name} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`,
    );

  return found;
}

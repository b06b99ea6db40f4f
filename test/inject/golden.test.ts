import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { injectManifests } from '../../control/inject/manifests.ts';
import { hasModel, validateObject } from '../k8s/schema.ts';

// `fenderctl inject` output per workload kind, compared with a reviewed
// golden file. After a deliberate change, regenerate the goldens with
// UPDATE_GOLDEN=1 and read the diff before committing it.

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'inject');
const UPDATE = process.env['UPDATE_GOLDEN'] === '1';
const OPTIONS = {
  image: 'registry.example.com/fender:1.2.3',
  clusterDomain: 'cluster.local',
  mode: 'opt-out',
} as const;

const CASES = [
  'pod',
  'deployment',
  'statefulset',
  'daemonset',
  'replicaset',
  'job',
  'cronjob',
  'list',
  'mixed',
];

function inject(source: string, name: string): string {
  const result = injectManifests(source, name, OPTIONS);
  if (!result.ok) throw new Error(result.errors.join('\n'));

  return result.output;
}

function objectsOf(stream: string): unknown[] {
  const docs = parseAllDocuments(stream, { version: '1.1' });
  const objects = docs.map((doc) => doc.toJS() as unknown).filter((object) => object !== null);

  return objects.flatMap((object) => {
    const items = (object as { kind?: string; items?: unknown[] }).items;

    return (object as { kind?: string }).kind === 'List' && items !== undefined ? items : [object];
  });
}

describe.each(CASES)('fenderctl inject golden: %s', (name) => {
  const source = readFileSync(join(FIXTURES, `${name}.yaml`), 'utf8');
  const goldenPath = join(FIXTURES, `${name}.golden.yaml`);
  const output = inject(source, `${name}.yaml`);
  if (UPDATE) writeFileSync(goldenPath, output);

  it('matches the golden file', () => {
    expect(existsSync(goldenPath), `${goldenPath} is missing; run with UPDATE_GOLDEN=1`).toBe(true);
    expect(output).toBe(readFileSync(goldenPath, 'utf8'));
  });

  it('prints objects valid against the Kubernetes schemas', () => {
    const objects = objectsOf(output);
    expect(objects.length).toBeGreaterThan(0);
    for (const object of objects) {
      expect(hasModel(object), `no schema for ${JSON.stringify(object).slice(0, 80)}`).toBe(true);
      expect(() => validateObject(object)).not.toThrow();
    }
  });

  it('changes nothing when run again', () => {
    expect(inject(output, `${name}.golden.yaml`)).toBe(output);
  });

  it('changes no document it skips', () => {
    const before = objectsOf(source);
    const after = objectsOf(output);
    expect(after).toHaveLength(before.length);
    after.forEach((object, index) => {
      const injected = JSON.stringify(object).includes('"name":"fender"');
      const wasInjected = JSON.stringify(before[index]).includes('"name":"fender"');
      if (!injected || wasInjected) expect(object).toEqual(before[index]);
    });
  });
});

import { z } from 'zod';
import type { IPod } from 'kubernetes-models/v1/Pod';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';

// The parts of a pod template the injector reads, checked before it touches
// anything: a manifest or an AdmissionReview is external data. Every object
// is loose, so fields the injector does not read pass through untouched.

const stringMap = z.record(z.string(), z.string()).nullish();

const container = z.looseObject({
  name: z.string().min(1),
  env: z.array(z.looseObject({ name: z.string().min(1) })).nullish(),
});

const podSpec = z.looseObject({
  containers: z.array(container).min(1),
  initContainers: z.array(container).nullish(),
  volumes: z.array(z.looseObject({ name: z.string().min(1) })).nullish(),
  hostNetwork: z.boolean().nullish(),
});

const podTemplate = z.looseObject({
  metadata: z.looseObject({ annotations: stringMap, labels: stringMap }).nullish(),
  spec: podSpec,
});

/** A Pod, or the `template` of a workload: metadata and spec. */
export interface PodTemplate {
  metadata?: IPod['metadata'];
  spec: IPodSpec;
}

export type TemplateCheck = { ok: true; template: PodTemplate } | { ok: false; problem: string };

/** Checks the fields the injector reads; the problem names the first bad field and what it held. */
export function checkPodTemplate(value: unknown): TemplateCheck {
  const result = podTemplate.safeParse(value);
  if (result.success) return { ok: true, template: value as PodTemplate };

  const issue = result.error.issues[0];
  const path = issue === undefined || issue.path.length === 0 ? '(root)' : issue.path.join('.');

  return { ok: false, problem: `${path}: ${issue?.message ?? 'invalid'}` };
}

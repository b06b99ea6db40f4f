import { ANNOTATIONS, INJECT_VALUES } from './names.ts';
import { getIn, isRecord, setIn } from './object-path.ts';
import { injectPod } from './mutate.ts';
import type { InjectOptions, InjectResult } from './mutate.ts';

// Where each workload kind keeps its pod template, and the injection of a
// whole object of one of those kinds.

/** Path from the object's root to its pod template; empty for a Pod itself. */
export const TEMPLATE_PATHS: Readonly<Record<string, readonly string[]>> = {
  Pod: [],
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

export type WorkloadResult =
  | {
      readonly status: 'injected';
      readonly object: Record<string, unknown>;
      readonly path: readonly string[];
    }
  | { readonly status: 'skipped' | 'rejected'; readonly reason: string }
  | { readonly status: 'unsupported'; readonly reason: string };

function disabledOnWorkload(object: Record<string, unknown>): boolean {
  const annotations = getIn(object, ['metadata', 'annotations']);

  return isRecord(annotations) && annotations[ANNOTATIONS.inject] === INJECT_VALUES.disabled;
}

/**
 * Injects the sidecar into any object of a kind in TEMPLATE_PATHS. The
 * workload's own `fender.dev/inject: disabled` annotation opts it out as the
 * pod template's does.
 */
export function injectWorkload(object: unknown, options: InjectOptions): WorkloadResult {
  const kind = isRecord(object) ? object['kind'] : undefined;
  const path = typeof kind === 'string' ? TEMPLATE_PATHS[kind] : undefined;
  if (!isRecord(object) || path === undefined) {
    const described = typeof kind === 'string' ? `kind ${kind}` : 'an object without a kind';

    return { status: 'unsupported', reason: `${described} has no pod template` };
  }
  if (path.length > 0 && disabledOnWorkload(object)) {
    return {
      status: 'skipped',
      reason: `annotation ${ANNOTATIONS.inject} on the ${kind} is "disabled"`,
    };
  }

  const result: InjectResult = injectPod(getIn(object, path), options);
  if (result.status !== 'injected') return result;

  return { status: 'injected', object: setIn(object, path, result.template), path };
}

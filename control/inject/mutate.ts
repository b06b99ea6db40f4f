import type { IContainer } from 'kubernetes-models/v1/Container';
import {
  ANNOTATIONS,
  CONTAINER_NAME,
  INJECTED_LABEL,
  INJECT_VALUES,
  PORTS,
  VOLUMES,
} from './names.ts';
import { checkPodTemplate } from './pod-schema.ts';
import type { PodTemplate } from './pod-schema.ts';
import { readSettings } from './settings.ts';
import type { ClusterSettings } from './settings.ts';
import { sidecarContainer, sidecarVolumes, withProxyEnv } from './sidecar.ts';
import type { SidecarSettings } from './sidecar.ts';

// The one pod mutation shared by the admission webhook and `fenderctl
// inject`: decides whether a pod template gets the sidecar and returns the
// mutated copy. The input is never modified.

/**
 * `opt-in`: inject only pods annotated `fender.dev/inject: enabled` (the
 * webhook for namespaces without the label). `opt-out`: inject every pod not
 * annotated `disabled` (`fenderctl inject`, and the webhook for namespaces
 * labelled `fender.dev/inject=enabled`).
 */
export type InjectMode = 'opt-in' | 'opt-out';

export interface InjectOptions extends ClusterSettings {
  readonly mode: InjectMode;
}

/**
 * The outcome for one pod. `skipped` is a deliberate choice (opted out,
 * already injected). `rejected` is a pod the injector cannot serve as
 * written, which the user sees as a warning. Both leave the pod as it was.
 */
export type InjectResult =
  | { readonly status: 'injected'; readonly template: PodTemplate }
  | { readonly status: 'skipped'; readonly reason: string }
  | { readonly status: 'rejected'; readonly reason: string };

const skipped = (reason: string): InjectResult => ({ status: 'skipped', reason });
const rejected = (reason: string): InjectResult => ({ status: 'rejected', reason });

const SCRAPE_ANNOTATIONS = {
  'prometheus.io/scrape': 'true',
  'prometheus.io/port': String(PORTS.metrics.containerPort),
  'prometheus.io/path': '/metrics',
};

function hasSidecar(template: PodTemplate): boolean {
  const containers = [...(template.spec.initContainers ?? []), ...template.spec.containers];

  return containers.some((container) => container.name === CONTAINER_NAME);
}

/** Applies the fender.dev/inject annotation and the mode; undefined when the pod is to be injected. */
function checkOptIn(template: PodTemplate, mode: InjectMode): InjectResult | undefined {
  const value = template.metadata?.annotations?.[ANNOTATIONS.inject];
  if (value !== undefined && value !== INJECT_VALUES.enabled && value !== INJECT_VALUES.disabled) {
    return rejected(
      `annotation ${ANNOTATIONS.inject} is ${JSON.stringify(value)}; expected "enabled" or "disabled"`,
    );
  }
  if (value === INJECT_VALUES.disabled) {
    return skipped(`annotation ${ANNOTATIONS.inject} is "disabled"`);
  }
  if (mode === 'opt-in' && value !== INJECT_VALUES.enabled) {
    return skipped(`not annotated ${ANNOTATIONS.inject}: "enabled"`);
  }

  return undefined;
}

/** Finds what keeps the sidecar out of this pod: one already there, hostNetwork, a clashing volume. */
function checkPod(template: PodTemplate): InjectResult | undefined {
  if (hasSidecar(template)) return skipped(`already has a container named "${CONTAINER_NAME}"`);
  if (template.spec.hostNetwork === true) {
    return rejected(
      'the pod uses hostNetwork, so the sidecar would bind 127.0.0.1:7700 on the node and clash with every other such pod',
    );
  }
  const podVolumes = new Set((template.spec.volumes ?? []).map((volume) => volume.name));
  const clash = Object.values(VOLUMES).find((name) => podVolumes.has(name));
  if (clash !== undefined) {
    return rejected(
      `the pod already has a volume named "${clash}", which the sidecar needs; rename it`,
    );
  }

  return undefined;
}

function withProxy(containers: readonly IContainer[], settings: SidecarSettings): IContainer[] {
  return containers.map((container) => ({
    ...container,
    env: withProxyEnv(container.env ?? [], settings),
  }));
}

function mutate(template: PodTemplate, settings: SidecarSettings): PodTemplate {
  const { metadata, spec } = template;
  const annotations = { ...metadata?.annotations };
  // The pod's own scrape annotations win: they may point Prometheus at the application.
  const scraped = Object.keys(SCRAPE_ANNOTATIONS).some((key) => key in annotations);

  return {
    ...template,
    metadata: {
      ...metadata,
      labels: { ...metadata?.labels, [INJECTED_LABEL]: 'true' },
      annotations: scraped ? annotations : { ...annotations, ...SCRAPE_ANNOTATIONS },
    },
    spec: {
      ...spec,
      // First, so that later init containers already have the proxy.
      initContainers: [
        sidecarContainer(settings),
        ...withProxy(spec.initContainers ?? [], settings),
      ],
      containers: withProxy(spec.containers, settings),
      volumes: [...(spec.volumes ?? []), ...sidecarVolumes(settings)],
    },
  };
}

/** Decides whether `value`, a Pod or a workload's pod template, gets the sidecar, and returns the result. */
export function injectPod(value: unknown, options: InjectOptions): InjectResult {
  const check = checkPodTemplate(value);
  if (!check.ok) return rejected(`invalid pod template at ${check.problem}`);

  const { template } = check;
  const decision = checkOptIn(template, options.mode) ?? checkPod(template);
  if (decision !== undefined) return decision;

  const settings = readSettings(template.metadata?.annotations ?? {}, options);
  if (!settings.ok) return rejected(settings.problem);

  return { status: 'injected', template: mutate(template, settings.settings) };
}

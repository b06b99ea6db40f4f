import type { IResourceRequirements } from 'kubernetes-models/v1/ResourceRequirements';
import { ANNOTATIONS, DEFAULT_CONFIG_MAP } from './names.ts';
import { DEFAULT_RESOURCES } from './sidecar.ts';
import type { SidecarSettings } from './sidecar.ts';

// Reads a pod's fender.dev/* annotations into the sidecar settings. Each
// value is checked here, because a bad one would otherwise surface later as
// a pod the API server rejects or a sidecar that cannot start.

export interface ClusterSettings {
  readonly image: string;
  readonly clusterDomain: string;
}

export type SettingsResult =
  { ok: true; settings: SidecarSettings } | { ok: false; problem: string };

// A DNS-1123 subdomain: what ConfigMap and Secret names, and DNS domains, must be.
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
// A Kubernetes quantity in plain or suffixed form (`250m`, `0.5`, `128Mi`, `1G`).
const QUANTITY = /^(\d+(\.\d+)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
// Host names, addresses, CIDR ranges, `.domain` suffixes and `*`, as NO_PROXY lists them.
const NO_PROXY_ENTRY = /^[A-Za-z0-9.:*[\]/_-]+$/;

type Annotations = Readonly<Record<string, string>>;

/** Checks the cluster-wide options; returns a message naming the first bad one, or undefined. */
export function checkClusterSettings(cluster: ClusterSettings): string | undefined {
  if (!/^\S+$/.test(cluster.image)) {
    return `--image must be an image reference such as fender:1.2.3, got ${JSON.stringify(cluster.image)}`;
  }
  if (!DNS_SUBDOMAIN.test(cluster.clusterDomain)) {
    return `--cluster-domain must be a DNS name such as cluster.local, got ${JSON.stringify(cluster.clusterDomain)}`;
  }

  return undefined;
}

function objectName(annotations: Annotations, key: string): string | Error | undefined {
  const value = annotations[key];
  if (value === undefined) return undefined;
  if (value.length <= 253 && DNS_SUBDOMAIN.test(value)) return value;

  return new Error(
    `annotation ${key} is ${JSON.stringify(value)}, which is not a valid object name; use lower-case letters, digits, '-' and '.'`,
  );
}

function quantity(annotations: Annotations, key: string): string | Error | undefined {
  const value = annotations[key];
  if (value === undefined) return undefined;
  if (QUANTITY.test(value)) return value;

  return new Error(
    `annotation ${key} is ${JSON.stringify(value)}, which is not a Kubernetes quantity; write it like 250m, 0.5, 128Mi or 1Gi`,
  );
}

const QUANTITY_SUFFIXES: Readonly<Record<string, number>> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** Returns a quantity's value in base units (cores, bytes), precise enough to compare two of them. */
export function quantityValue(value: string): number {
  const match = QUANTITY.exec(value);
  if (match === null) throw new RangeError(`not a Kubernetes quantity: ${JSON.stringify(value)}`);

  return Number(match[1]) * (QUANTITY_SUFFIXES[match[3] ?? ''] ?? Number.NaN);
}

function resources(annotations: Annotations): IResourceRequirements | Error {
  const requests: Record<string, string> = { ...DEFAULT_RESOURCES.requests };
  const limits: Record<string, string> = { ...DEFAULT_RESOURCES.limits };
  const overrides = [
    [ANNOTATIONS.cpuRequest, requests, 'cpu'],
    [ANNOTATIONS.memoryRequest, requests, 'memory'],
    [ANNOTATIONS.cpuLimit, limits, 'cpu'],
    [ANNOTATIONS.memoryLimit, limits, 'memory'],
  ] as const;
  for (const [key, target, resource] of overrides) {
    const value = quantity(annotations, key);
    if (value instanceof Error) return value;
    if (value !== undefined) target[resource] = value;
  }

  // The API server rejects a pod whose request exceeds its limit; saying so
  // here names the annotation to change instead of failing the whole pod.
  for (const resource of ['cpu', 'memory'] as const) {
    const request = requests[resource];
    const limit = limits[resource];
    if (request === undefined || limit === undefined) continue;
    if (quantityValue(request) <= quantityValue(limit)) continue;

    return new Error(
      `the sidecar's ${resource} request ${request} is above its limit ${limit}; raise fender.dev/${resource}-limit or lower fender.dev/${resource}-request`,
    );
  }

  return { requests, limits };
}

function noProxyEntries(annotations: Annotations): string[] | Error {
  const value = annotations[ANNOTATIONS.noProxy];
  if (value === undefined) return [];

  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  const bad = entries.find((entry) => !NO_PROXY_ENTRY.test(entry));
  if (bad === undefined) return entries;

  return new Error(
    `annotation ${ANNOTATIONS.noProxy} contains ${JSON.stringify(bad)}, which is not a host name, address or domain suffix; separate entries with commas`,
  );
}

/** Builds the sidecar settings from the cluster-wide ones and the pod's annotations. */
export function readSettings(annotations: Annotations, cluster: ClusterSettings): SettingsResult {
  const configMap = objectName(annotations, ANNOTATIONS.config);
  if (configMap instanceof Error) return { ok: false, problem: configMap.message };
  const secret = objectName(annotations, ANNOTATIONS.secret);
  if (secret instanceof Error) return { ok: false, problem: secret.message };
  const requirements = resources(annotations);
  if (requirements instanceof Error) return { ok: false, problem: requirements.message };
  const extraNoProxy = noProxyEntries(annotations);
  if (extraNoProxy instanceof Error) return { ok: false, problem: extraNoProxy.message };

  const settings: SidecarSettings = {
    image: cluster.image,
    clusterDomain: cluster.clusterDomain,
    configMap: configMap ?? DEFAULT_CONFIG_MAP,
    resources: requirements,
    extraNoProxy,
    ...(secret === undefined ? {} : { secret }),
  };

  return { ok: true, settings };
}

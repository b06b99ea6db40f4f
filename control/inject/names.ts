// Names the injector writes into pods and reads from them. Annotation and
// label keys are part of the contract with the people who annotate their
// workloads, so they change only together with docs/kubernetes.md.

import packageJson from '../../package.json' with { type: 'json' };

/** The Fender version; the default sidecar image carries it as its tag. */
export const FENDER_VERSION: string = packageJson.version;

/** The image `docker build -t fender:VERSION .` produces; override it with `--image`. */
export const DEFAULT_IMAGE = `fender:${FENDER_VERSION}`;

export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';

export const ANNOTATIONS = {
  /** `enabled` or `disabled`: opts a pod in or out. */
  inject: 'fender.dev/inject',
  /** The ConfigMap holding `fender.yaml`, in the pod's namespace. */
  config: 'fender.dev/config',
  /** A Secret mounted at /var/run/secrets/fender (control token, cache key, webhook secrets). */
  secret: 'fender.dev/secret',
  /** Extra comma-separated NO_PROXY entries for the application containers. */
  noProxy: 'fender.dev/no-proxy',
  cpuRequest: 'fender.dev/cpu-request',
  cpuLimit: 'fender.dev/cpu-limit',
  memoryRequest: 'fender.dev/memory-request',
  memoryLimit: 'fender.dev/memory-limit',
} as const;

/** Set on every injected pod; the PodMonitor selects on it. */
export const INJECTED_LABEL = 'fender.dev/injected';

export const INJECT_VALUES = { enabled: 'enabled', disabled: 'disabled' } as const;

export const DEFAULT_CONFIG_MAP = 'fender-config';

export const CONTAINER_NAME = 'fender';

export const VOLUMES = {
  config: 'fender-config',
  state: 'fender-state',
  secrets: 'fender-secrets',
} as const;

export const MOUNT_PATHS = {
  config: '/etc/fender',
  state: '/var/lib/fender',
  secrets: '/var/run/secrets/fender',
} as const;

export const CONFIG_FILE = `${MOUNT_PATHS.config}/fender.yaml`;

/** The listeners a pod IP reaches; egress and control bind 127.0.0.1 and get no port entry. */
export const PORTS = {
  egress: 7700,
  metrics: { name: 'fender-metrics', containerPort: 7702 },
  webhooks: { name: 'fender-webhooks', containerPort: 7703 },
} as const;

export const PROXY_URL = `http://127.0.0.1:${PORTS.egress}`;

import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { IResourceRequirements } from 'kubernetes-models/v1/ResourceRequirements';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import type { IVolumeMount } from 'kubernetes-models/v1/VolumeMount';
import { CONFIG_FILE, CONTAINER_NAME, MOUNT_PATHS, PORTS, PROXY_URL, VOLUMES } from './names.ts';

// The pieces the injector adds to a pod: the Fender container, its volumes
// and the proxy variables of the application containers.

/** The per-pod settings, already read from the pod's annotations and validated. */
export interface SidecarSettings {
  readonly image: string;
  readonly configMap: string;
  readonly secret?: string;
  readonly resources: IResourceRequirements;
  readonly clusterDomain: string;
  readonly extraNoProxy: readonly string[];
}

// Sized from the benchmark (docs/benchmarks.md): Node 24 idles at about
// 120 MiB RSS with Fender loaded and peaked at 230-300 MiB under saturating
// load, before the cache tier's default 64 MiB. No CPU limit by default,
// because CFS throttling delays every proxied request of the pod; set one
// per pod with the fender.dev/cpu-limit annotation.
export const DEFAULT_RESOURCES = {
  requests: { cpu: '100m', memory: '192Mi' },
  limits: { memory: '512Mi' },
} as const;

/** The non-root user of the image (distroless `nonroot`). */
export const RUN_AS_USER = 65532;

/**
 * Builds the Fender container as a native sidecar: an init container with
 * `restartPolicy: Always` starts before the application containers, stays up
 * beside them and stops after them (Kubernetes 1.29 and later).
 */
export function sidecarContainer(settings: SidecarSettings): IContainer {
  const probe = (path: string, periodSeconds: number, failureThreshold: number) => ({
    httpGet: { path, port: PORTS.metrics.name },
    periodSeconds,
    timeoutSeconds: 2,
    failureThreshold,
  });

  return {
    name: CONTAINER_NAME,
    image: settings.image,
    imagePullPolicy: 'IfNotPresent',
    restartPolicy: 'Always',
    args: ['--config', CONFIG_FILE],
    ports: [
      { name: PORTS.metrics.name, containerPort: PORTS.metrics.containerPort, protocol: 'TCP' },
      { name: PORTS.webhooks.name, containerPort: PORTS.webhooks.containerPort, protocol: 'TCP' },
    ],
    // The kubelet starts the next init container, and then the application,
    // only once this probe passes, so the first outbound call finds the proxy listening.
    startupProbe: probe('/readyz', 1, 30),
    readinessProbe: probe('/readyz', 5, 2),
    livenessProbe: probe('/healthz', 10, 3),
    resources: settings.resources,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: RUN_AS_USER,
      runAsGroup: RUN_AS_USER,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: sidecarMounts(settings),
    // An invalid config makes the agent exit 1 listing every problem;
    // this puts that list into `kubectl describe pod`.
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}

function sidecarMounts(settings: SidecarSettings): IVolumeMount[] {
  const mounts: IVolumeMount[] = [
    { name: VOLUMES.config, mountPath: MOUNT_PATHS.config, readOnly: true },
    { name: VOLUMES.state, mountPath: MOUNT_PATHS.state },
  ];
  if (settings.secret !== undefined) {
    mounts.push({ name: VOLUMES.secrets, mountPath: MOUNT_PATHS.secrets, readOnly: true });
  }

  return mounts;
}

/**
 * Builds the sidecar's volumes. The config is mounted as a whole directory,
 * never through `subPath`, because the kubelet updates only whole-directory
 * mounts when the ConfigMap changes, and the agent reloads on that update.
 */
export function sidecarVolumes(settings: SidecarSettings): IVolume[] {
  const volumes: IVolume[] = [
    { name: VOLUMES.config, configMap: { name: settings.configMap } },
    { name: VOLUMES.state, emptyDir: {} },
  ];
  if (settings.secret !== undefined) {
    volumes.push({ name: VOLUMES.secrets, secret: { secretName: settings.secret } });
  }

  return volumes;
}

/** Returns the NO_PROXY list: loopback, the cluster's service names, then the pod's own additions. */
export function noProxyValue(settings: SidecarSettings): string {
  const entries = ['localhost', '127.0.0.1', '::1', '.svc', `.${settings.clusterDomain}`];

  return [...new Set([...entries, ...settings.extraNoProxy])].join(',');
}

// Both spellings, because clients disagree: curl and Python read the
// lower-case names, and many Go and Java clients read the upper-case ones.
const HTTP_PROXY_NAMES = ['HTTP_PROXY', 'http_proxy'];
const NO_PROXY_NAMES = ['NO_PROXY', 'no_proxy'];

/**
 * Returns `env` with HTTP_PROXY and NO_PROXY added in both spellings, after
 * the container's own variables. An application's own proxy settings win: a
 * container that sets HTTP_PROXY (either spelling) already uses another
 * proxy and gets nothing, and one that sets only NO_PROXY keeps its list.
 */
export function withProxyEnv(env: readonly IEnvVar[], settings: SidecarSettings): IEnvVar[] {
  const present = new Set(env.map((variable) => variable.name));
  if (HTTP_PROXY_NAMES.some((name) => present.has(name))) return [...env];

  const added: IEnvVar[] = HTTP_PROXY_NAMES.map((name) => ({ name, value: PROXY_URL }));
  if (!NO_PROXY_NAMES.some((name) => present.has(name))) {
    const value = noProxyValue(settings);
    added.push(...NO_PROXY_NAMES.map((name) => ({ name, value })));
  }

  return [...env, ...added];
}

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { injectPod } from '../../control/inject/mutate.ts';
import { DEFAULT_IMAGE, INJECTED_LABEL, PORTS } from '../../control/inject/names.ts';
import { OPT_IN_PATH, OPT_OUT_PATH } from '../../control/inject/server.ts';
import { hasModel, validateObject } from './schema.ts';
import { K8S, KUBECTL, ROOT, find, kustomizationResources, kustomize } from './kustomize.ts';
import type { Build, K8sObject } from './kustomize.ts';
import { skipWithout } from './tools.ts';

// The manifests under k8s/: they build with kubectl kustomize, validate
// against the Kubernetes schemas, and agree with the code and with each
// other where a name or a port must match.

const FOLDERS = ['.', 'injector', 'cert-manager', 'monitoring', 'grafana'];

// cert-manager's kinds have no model among the installed packages unless
// @kubernetes-models/cert-manager is added; until then they get the
// structural checks below only.
const certManagerSpecifier = '@kubernetes-models/cert-manager/cert-manager.io/v1';
const certManager = (await import(certManagerSpecifier).catch(() => undefined)) as
  Record<string, new (data: unknown) => { validate(): void }> | undefined;

type Container = {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown> & { capabilities?: { drop?: string[] } };
  readinessProbe?: { httpGet?: { path: string; port: string | number; scheme?: string } };
  livenessProbe?: { httpGet?: { path: string; port: string | number; scheme?: string } };
  volumeMounts?: { name: string; mountPath: string }[];
};
type PodSpec = {
  containers: Container[];
  initContainers?: Container[];
  securityContext?: Record<string, unknown>;
  volumes?: { name: string; secret?: { secretName: string }; configMap?: { name: string } }[];
};

function podSpec(object: K8sObject): PodSpec {
  return (object as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
}

function manifestFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return manifestFiles(path);

    return path.endsWith('.yaml') && !path.endsWith('kustomization.yaml')
      ? [relative(K8S, path)]
      : [];
  });
}

describe.skipIf(skipWithout(KUBECTL))('k8s manifests', () => {
  const builds = new Map<string, Build>();
  const all = (): K8sObject[] => builds.get('.')?.objects ?? [];

  beforeAll(() => {
    for (const folder of FOLDERS) builds.set(folder, kustomize(folder));
  });

  it.each(FOLDERS)('kustomize builds k8s/%s without warnings', (folder) => {
    const build = builds.get(folder);
    expect(build?.objects.length).toBeGreaterThan(0);
    expect(build?.stderr).toBe('');
  });

  it.each(FOLDERS)('k8s/%s validates against the schemas', (folder) => {
    for (const object of builds.get(folder)?.objects ?? []) {
      if (object.apiVersion === 'cert-manager.io/v1') continue;
      expect(hasModel(object), `${object.apiVersion}/${object.kind}`).toBe(true);
      expect(() => validateObject(object)).not.toThrow();
    }
  });

  it('cert-manager objects are well formed', () => {
    const objects = builds.get('cert-manager')?.objects ?? [];
    expect(objects.map((object) => `${object.kind}/${object.metadata.name}`).sort()).toEqual([
      'Certificate/fender-injector',
      'Certificate/fender-injector-ca',
      'Issuer/fender-ca',
      'Issuer/fender-selfsigned',
    ]);
    for (const object of objects) {
      expect(object.apiVersion).toBe('cert-manager.io/v1');
      expect(object.metadata.namespace).toBe('fender-system');
      const spec = object['spec'] as {
        secretName?: string;
        issuerRef?: { name: string; kind: string };
      };
      if (object.kind === 'Certificate') {
        expect(spec.secretName).toBeTypeOf('string');
        expect(
          objects.some(
            (other) =>
              other.kind === spec.issuerRef?.kind && other.metadata.name === spec.issuerRef?.name,
          ),
        ).toBe(true);
      }
    }
  });

  it.skipIf(certManager === undefined)(
    'cert-manager objects validate against their schemas',
    () => {
      for (const object of builds.get('cert-manager')?.objects ?? []) {
        const Model = certManager?.[object.kind];
        expect(Model, object.kind).toBeDefined();
        expect(() => new Model!(object).validate()).not.toThrow();
      }
    },
  );

  it('root kustomization includes every part', () => {
    const root = kustomizationResources('.');
    for (const folder of ['injector', 'cert-manager', 'monitoring']) {
      for (const resource of kustomizationResources(folder))
        expect(root).toContain(`${folder}/${resource}`);
    }
    const listed = new Set([
      ...root,
      ...['injector', 'cert-manager', 'monitoring'].flatMap((folder) =>
        kustomizationResources(folder).map((resource) => `${folder}/${resource}`),
      ),
    ]);
    for (const file of manifestFiles(K8S)) {
      if (file === 'fender.yaml') continue;
      expect(listed.has(file), `${file} is in no kustomization`).toBe(true);
    }
  });

  it('fender-config is k8s/fender.yaml', () => {
    const configMap = find(all(), 'ConfigMap', 'fender-config');
    expect(configMap['data']).toEqual({
      'fender.yaml': readFileSync(join(K8S, 'fender.yaml'), 'utf8'),
    });
    expect(configMap.metadata.namespace).toBeUndefined();
  });

  it('grafana ConfigMap is the dashboard file', () => {
    const [configMap] = builds.get('grafana')?.objects ?? [];
    expect(configMap?.kind).toBe('ConfigMap');
    expect(configMap?.metadata.labels).toEqual({ grafana_dashboard: '1' });
    const json = readFileSync(join(K8S, 'grafana', 'fender-dashboard.json'), 'utf8');
    expect(configMap?.['data']).toEqual({ 'fender-dashboard.json': json });
  });

  it('example sidecar is what the injector adds', () => {
    const example = find(all(), 'Deployment', 'example-app');
    const template = (
      example as unknown as {
        spec: { template: { metadata: K8sObject['metadata']; spec: PodSpec } };
      }
    ).spec.template;
    const proxyNames = new Set(['HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy']);
    const bare = {
      metadata: { labels: { 'app.kubernetes.io/name': 'example-app' } },
      spec: {
        ...template.spec,
        initContainers: (template.spec.initContainers ?? []).filter(
          (container) => container.name !== 'fender',
        ),
        containers: template.spec.containers.map((container) => {
          const copy: Record<string, unknown> = { ...container };
          const env = (container as { env?: { name: string }[] }).env?.filter(
            (v) => !proxyNames.has(v.name),
          );
          if (env === undefined || env.length === 0) delete copy['env'];
          else copy['env'] = env;

          return copy;
        }),
        volumes: (template.spec.volumes ?? []).filter(
          (volume) => !volume.name.startsWith('fender-'),
        ),
      },
    };
    if (bare.spec.initContainers.length === 0)
      delete (bare.spec as { initContainers?: unknown }).initContainers;
    if (bare.spec.volumes.length === 0) delete (bare.spec as { volumes?: unknown }).volumes;
    const result = injectPod(bare, {
      image: DEFAULT_IMAGE,
      clusterDomain: 'cluster.local',
      mode: 'opt-out',
    });
    expect(result.status).toBe('injected');
    expect(result.status === 'injected' ? result.template : undefined).toEqual(template);
  });

  it('injector runs the Fender image and names it for sidecars', () => {
    const deployment = find(all(), 'Deployment', 'fender-injector');
    const [container] = podSpec(deployment).containers;
    expect(container?.image).toBe(DEFAULT_IMAGE);
    expect(container?.args).toContain(`--image=${container?.image}`);
    expect(container?.command?.at(-1)).toBe('control/inject/main.ts');
    expect(existsSync(join(ROOT, 'control', 'inject', 'main.ts'))).toBe(true);
  });

  it('injector arguments are valid options', () => {
    const [container] = podSpec(find(all(), 'Deployment', 'fender-injector')).containers;
    const main = join(ROOT, container?.command?.at(-1) ?? '');
    const result = spawnSync(process.execPath, [main, ...(container?.args ?? []), '--help'], {
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('injector Service reaches its container port', () => {
    const service = find(all(), 'Service', 'fender-injector');
    const deployment = find(all(), 'Deployment', 'fender-injector');
    const [container] = podSpec(deployment).containers;
    const spec = service['spec'] as {
      selector: Record<string, string>;
      ports: { port: number; targetPort: string }[];
    };
    const templateLabels = (
      deployment as unknown as {
        spec: { template: { metadata: { labels: Record<string, string> } } };
      }
    ).spec.template.metadata.labels;
    expect(templateLabels).toMatchObject(spec.selector);
    const port = container?.ports?.find(
      (candidate) => candidate.name === spec.ports[0]?.targetPort,
    );
    expect(port).toBeDefined();
    expect(container?.args).toContain(`--port=${port?.containerPort}`);
    expect(container?.readinessProbe?.httpGet).toEqual({
      path: '/readyz',
      port: 'https',
      scheme: 'HTTPS',
    });
    expect(container?.livenessProbe?.httpGet).toEqual({
      path: '/healthz',
      port: 'https',
      scheme: 'HTTPS',
    });
  });

  it('webhooks call the injector paths', () => {
    const configuration = find(all(), 'MutatingWebhookConfiguration', 'fender-injector');
    const service = find(all(), 'Service', 'fender-injector');
    type Webhook = {
      name: string;
      clientConfig: { service: { name: string; namespace: string; path: string; port: number } };
      rules: {
        operations: string[];
        resources: string[];
        apiVersions: string[];
        apiGroups: string[];
      }[];
      namespaceSelector: {
        matchExpressions: { key: string; operator: string; values: string[] }[];
      };
      failurePolicy: string;
      sideEffects: string;
      timeoutSeconds: number;
      admissionReviewVersions: string[];
    };
    const webhooks = configuration['webhooks'] as Webhook[];
    expect(webhooks.map((webhook) => webhook.clientConfig.service.path)).toEqual([
      OPT_OUT_PATH,
      OPT_IN_PATH,
    ]);
    for (const webhook of webhooks) {
      expect(webhook.clientConfig.service).toMatchObject({
        name: service.metadata.name,
        namespace: service.metadata.namespace,
        port: (service['spec'] as { ports: { port: number }[] }).ports[0]?.port,
      });
      expect(webhook.rules).toEqual([
        {
          operations: ['CREATE'],
          apiGroups: [''],
          apiVersions: ['v1'],
          resources: ['pods'],
          scope: 'Namespaced',
        },
      ]);
      expect(webhook.sideEffects).toBe('None');
      expect(webhook.admissionReviewVersions).toEqual(['v1']);
      expect(webhook.timeoutSeconds).toBeLessThanOrEqual(10);
      const excluded = webhook.namespaceSelector.matchExpressions.find(
        (e) => e.key === 'kubernetes.io/metadata.name',
      );
      expect(excluded?.operator).toBe('NotIn');
      expect(excluded?.values).toEqual(expect.arrayContaining(['kube-system', 'fender-system']));
    }
    const [byNamespace, byPod] = webhooks;
    expect(byNamespace?.failurePolicy).toBe('Fail');
    expect(byNamespace?.namespaceSelector.matchExpressions).toContainEqual({
      key: 'fender.dev/inject',
      operator: 'In',
      values: ['enabled'],
    });
    expect(byPod?.failurePolicy).toBe('Ignore');
    expect(byPod?.namespaceSelector.matchExpressions).toContainEqual({
      key: 'fender.dev/inject',
      operator: 'NotIn',
      values: ['enabled', 'disabled'],
    });
  });

  it('cert-manager issues the injector certificate', () => {
    const configuration = find(all(), 'MutatingWebhookConfiguration', 'fender-injector');
    const reference = configuration.metadata.annotations?.['cert-manager.io/inject-ca-from'] ?? '';
    const [namespace, name] = reference.split('/');
    const certificate = find(all(), 'Certificate', name ?? '');
    expect(certificate.metadata.namespace).toBe(namespace);
    const spec = certificate['spec'] as { secretName: string; dnsNames: string[] };
    expect(spec.dnsNames).toContain('fender-injector.fender-system.svc');
    const volume = podSpec(find(all(), 'Deployment', 'fender-injector')).volumes?.find(
      (v) => v.name === 'tls',
    );
    expect(volume?.secret?.secretName).toBe(spec.secretName);
  });

  it('PodMonitor selects injected pods', () => {
    const podMonitor = find(all(), 'PodMonitor', 'fender');
    const spec = podMonitor['spec'] as {
      selector: { matchLabels: Record<string, string> };
      namespaceSelector: { any: boolean };
      podMetricsEndpoints: { port: string; path: string }[];
    };
    expect(spec.selector.matchLabels).toEqual({ [INJECTED_LABEL]: 'true' });
    expect(spec.namespaceSelector).toEqual({ any: true });
    expect(spec.podMetricsEndpoints).toEqual([
      expect.objectContaining({ port: PORTS.metrics.name, path: '/metrics' }),
    ]);
    const example = podSpec(find(all(), 'Deployment', 'example-app'));
    const sidecar = example.initContainers?.find((container) => container.name === 'fender');
    expect(sidecar?.ports?.map((port) => port.name)).toContain(spec.podMetricsEndpoints[0]?.port);
  });

  it('every container is locked down', () => {
    const workloads = all().filter((object) => object.kind === 'Deployment');
    expect(workloads.length).toBeGreaterThanOrEqual(2);
    for (const workload of workloads) {
      const spec = podSpec(workload);
      for (const container of [...(spec.initContainers ?? []), ...spec.containers]) {
        const where = `${workload.metadata.name}/${container.name}`;
        const context = container.securityContext ?? {};
        const nonRoot = context['runAsNonRoot'] ?? spec.securityContext?.['runAsNonRoot'];
        expect(nonRoot, where).toBe(true);
        expect(context['allowPrivilegeEscalation'], where).toBe(false);
        expect(context['readOnlyRootFilesystem'], where).toBe(true);
        expect(context.capabilities?.drop, where).toEqual(['ALL']);
        expect(container.resources?.requests?.['memory'], where).toBeDefined();
        expect(container.resources?.limits?.['memory'], where).toBeDefined();
      }
    }
  });
});

describe('k8s manifest files', () => {
  it.each(manifestFiles(K8S))('%s parses as YAML', (file) => {
    const docs = parseAllDocuments(readFileSync(join(K8S, file), 'utf8'));
    expect(docs.length).toBeGreaterThan(0);
    for (const doc of docs) expect(doc.errors).toEqual([]);
  });
});

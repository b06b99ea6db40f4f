import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { injectPod } from '../../control/inject/mutate.ts';
import type { InjectOptions } from '../../control/inject/mutate.ts';
import type { PodTemplate } from '../../control/inject/pod-schema.ts';
import { injectWorkload } from '../../control/inject/workloads.ts';

const OPT_OUT: InjectOptions = {
  image: 'fender:test',
  clusterDomain: 'cluster.local',
  mode: 'opt-out',
};
const OPT_IN: InjectOptions = { ...OPT_OUT, mode: 'opt-in' };

function pod(
  annotations?: Record<string, string>,
  spec: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'app', ...(annotations === undefined ? {} : { annotations }) },
    spec: { containers: [{ name: 'app', image: 'app:1' }], ...spec },
  };
}

function injected(value: unknown, options: InjectOptions = OPT_OUT): PodTemplate {
  const result = injectPod(value, options);
  if (result.status !== 'injected')
    throw new Error(`expected injection, got ${result.status}: ${result.reason}`);

  return result.template;
}

/** Returns the reason of a result that is not an injection; fails the test for an injection. */
function reasonOf(result: ReturnType<typeof injectPod>): string {
  if (result.status === 'injected') throw new Error('expected no injection');

  return result.reason;
}

function envOf(template: PodTemplate, container = 0): Record<string, string | undefined> {
  const env = template.spec.containers[container]?.env ?? [];

  return Object.fromEntries(env.map((variable) => [variable.name, variable.value]));
}

describe('injectPod decision', () => {
  it('injects an unannotated pod in opt-out mode', () => {
    expect(injectPod(pod(), OPT_OUT).status).toBe('injected');
  });

  it('skips an unannotated pod in opt-in mode', () => {
    const result = injectPod(pod(), OPT_IN);
    expect(result.status).toBe('skipped');
  });

  it('injects an enabled pod in opt-in mode', () => {
    expect(injectPod(pod({ 'fender.dev/inject': 'enabled' }), OPT_IN).status).toBe('injected');
  });

  it('skips a disabled pod in both modes', () => {
    for (const options of [OPT_IN, OPT_OUT]) {
      const result = injectPod(pod({ 'fender.dev/inject': 'disabled' }), options);
      expect(result).toEqual({
        status: 'skipped',
        reason: 'annotation fender.dev/inject is "disabled"',
      });
    }
  });

  it('rejects an unknown inject value', () => {
    const result = injectPod(pod({ 'fender.dev/inject': 'true' }), OPT_OUT);
    expect(result.status).toBe('rejected');
    expect(reasonOf(result)).toContain('"true"; expected "enabled" or "disabled"');
  });

  it('leaves a pod with a fender container alone', () => {
    const withSidecar = pod(undefined, {
      initContainers: [{ name: 'fender', image: 'fender:old' }],
    });
    expect(injectPod(withSidecar, OPT_OUT).status).toBe('skipped');
    const asContainer = pod(undefined, {
      containers: [
        { name: 'app', image: 'app:1' },
        { name: 'fender', image: 'fender:old' },
      ],
    });
    expect(injectPod(asContainer, OPT_OUT).status).toBe('skipped');
  });

  it('rejects hostNetwork pods', () => {
    const result = injectPod(pod(undefined, { hostNetwork: true }), OPT_OUT);
    expect(result.status).toBe('rejected');
    expect(reasonOf(result)).toContain('hostNetwork');
  });

  it('rejects a pod whose volume name clashes', () => {
    const result = injectPod(
      pod(undefined, { volumes: [{ name: 'fender-state', emptyDir: {} }] }),
      OPT_OUT,
    );
    expect(result.status).toBe('rejected');
    expect(reasonOf(result)).toContain('"fender-state"');
  });

  it('rejects malformed templates without throwing', () => {
    const cases: unknown[] = [
      null,
      'a pod',
      [],
      {},
      { spec: {} },
      { spec: { containers: [] } },
      { spec: { containers: 'app' } },
      { spec: { containers: [{ image: 'no-name' }] } },
      { spec: { containers: [{ name: 'a', env: [{ value: 'no-name' }] }] } },
      {
        metadata: { annotations: { 'fender.dev/inject': true } },
        spec: { containers: [{ name: 'a' }] },
      },
      { metadata: 'x', spec: { containers: [{ name: 'a' }] } },
    ];
    for (const value of cases) {
      const result = injectPod(value, OPT_OUT);
      expect(result.status, JSON.stringify(value)).toBe('rejected');
      expect(reasonOf(result)).toMatch(/^invalid pod template at /);
    }
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const result = injectPod(value, OPT_OUT);
        expect(['injected', 'skipped', 'rejected']).toContain(result.status);
      }),
      { numRuns: 300 },
    );
  });
});

describe('injectPod mutation', () => {
  it('adds the sidecar first among init containers', () => {
    const template = injected(
      pod(undefined, { initContainers: [{ name: 'migrate', image: 'm:1' }] }),
    );
    const names = (template.spec.initContainers ?? []).map((container) => container.name);
    expect(names).toEqual(['fender', 'migrate']);
    const sidecar = template.spec.initContainers?.[0];
    expect(sidecar?.restartPolicy).toBe('Always');
    expect(sidecar?.image).toBe('fender:test');
    expect(sidecar?.securityContext?.runAsNonRoot).toBe(true);
    expect(sidecar?.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(sidecar?.securityContext?.capabilities?.drop).toEqual(['ALL']);
  });

  it('probes the metrics port', () => {
    const sidecar = injected(pod()).spec.initContainers?.[0];
    expect(sidecar?.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'fender-metrics' });
    expect(sidecar?.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'fender-metrics' });
    expect(sidecar?.startupProbe?.httpGet).toEqual({ path: '/readyz', port: 'fender-metrics' });
    expect(sidecar?.ports?.find((port) => port.name === 'fender-metrics')?.containerPort).toBe(
      7702,
    );
  });

  it('mounts the default ConfigMap and an emptyDir', () => {
    const template = injected(pod());
    expect(template.spec.volumes).toEqual([
      { name: 'fender-config', configMap: { name: 'fender-config' } },
      { name: 'fender-state', emptyDir: {} },
    ]);
    const mounts = template.spec.initContainers?.[0]?.volumeMounts;
    expect(mounts).toEqual([
      { name: 'fender-config', mountPath: '/etc/fender', readOnly: true },
      { name: 'fender-state', mountPath: '/var/lib/fender' },
    ]);
  });

  it('takes the ConfigMap and Secret from annotations', () => {
    const template = injected(
      pod({ 'fender.dev/config': 'my-config', 'fender.dev/secret': 'my-secrets' }),
    );
    expect(template.spec.volumes).toContainEqual({
      name: 'fender-config',
      configMap: { name: 'my-config' },
    });
    expect(template.spec.volumes).toContainEqual({
      name: 'fender-secrets',
      secret: { secretName: 'my-secrets' },
    });
    expect(template.spec.initContainers?.[0]?.volumeMounts).toContainEqual({
      name: 'fender-secrets',
      mountPath: '/var/run/secrets/fender',
      readOnly: true,
    });
  });

  it('rejects invalid object names in annotations', () => {
    for (const key of ['fender.dev/config', 'fender.dev/secret']) {
      const result = injectPod(pod({ [key]: 'Not_A_Name' }), OPT_OUT);
      expect(result.status, key).toBe('rejected');
      expect(reasonOf(result)).toContain(`annotation ${key} is "Not_A_Name"`);
    }
  });

  it('sets resources from annotations', () => {
    const template = injected(
      pod({
        'fender.dev/cpu-request': '250m',
        'fender.dev/cpu-limit': '1',
        'fender.dev/memory-request': '200Mi',
        'fender.dev/memory-limit': '1Gi',
      }),
    );
    expect(template.spec.initContainers?.[0]?.resources).toEqual({
      requests: { cpu: '250m', memory: '200Mi' },
      limits: { cpu: '1', memory: '1Gi' },
    });
  });

  it('rejects invalid resource annotations', () => {
    const bad = injectPod(pod({ 'fender.dev/memory-limit': 'lots' }), OPT_OUT);
    expect(bad.status).toBe('rejected');
    expect(reasonOf(bad)).toContain('"lots", which is not a Kubernetes quantity');
    const inverted = injectPod(pod({ 'fender.dev/memory-request': '1Gi' }), OPT_OUT);
    expect(inverted.status).toBe('rejected');
    expect(reasonOf(inverted)).toContain('memory request 1Gi is above its limit 512Mi');
    const cpu = injectPod(
      pod({ 'fender.dev/cpu-request': '2', 'fender.dev/cpu-limit': '500m' }),
      OPT_OUT,
    );
    expect(cpu.status).toBe('rejected');
  });

  it('sets the proxy variables in both spellings', () => {
    const env = envOf(injected(pod()));
    expect(env['HTTP_PROXY']).toBe('http://127.0.0.1:7700');
    expect(env['http_proxy']).toBe('http://127.0.0.1:7700');
    expect(env['NO_PROXY']).toBe('localhost,127.0.0.1,::1,.svc,.cluster.local');
    expect(env['no_proxy']).toBe(env['NO_PROXY']);
  });

  it('uses the cluster domain and extra NO_PROXY entries', () => {
    const options = { ...OPT_OUT, clusterDomain: 'corp.internal' };
    const env = envOf(
      injected(pod({ 'fender.dev/no-proxy': ' db.internal ,10.0.0.0/8,,' }), options),
    );
    expect(env['NO_PROXY']).toBe(
      'localhost,127.0.0.1,::1,.svc,.corp.internal,db.internal,10.0.0.0/8',
    );
  });

  it('rejects an invalid NO_PROXY entry', () => {
    const result = injectPod(pod({ 'fender.dev/no-proxy': 'a b' }), OPT_OUT);
    expect(result.status).toBe('rejected');
  });

  it('keeps an application HTTP_PROXY untouched', () => {
    for (const name of ['HTTP_PROXY', 'http_proxy']) {
      const own = [{ name, value: 'http://proxy.corp:3128' }];
      const template = injected(pod(undefined, { containers: [{ name: 'app', env: own }] }));
      expect(template.spec.containers[0]?.env).toEqual(own);
    }
  });

  it('keeps an application NO_PROXY', () => {
    const own = [{ name: 'no_proxy', value: 'db' }];
    const env = envOf(injected(pod(undefined, { containers: [{ name: 'app', env: own }] })));
    expect(env['no_proxy']).toBe('db');
    expect(env['NO_PROXY']).toBeUndefined();
    expect(env['HTTP_PROXY']).toBe('http://127.0.0.1:7700');
  });

  it('counts a valueFrom variable as set', () => {
    const own = [
      { name: 'HTTP_PROXY', valueFrom: { configMapKeyRef: { name: 'proxy', key: 'url' } } },
    ];
    const template = injected(pod(undefined, { containers: [{ name: 'app', env: own }] }));
    expect(template.spec.containers[0]?.env).toEqual(own);
  });

  it('sets the proxy on every container', () => {
    const template = injected(
      pod(undefined, {
        initContainers: [{ name: 'migrate' }],
        containers: [{ name: 'a' }, { name: 'b', env: [{ name: 'X', value: '1' }] }],
      }),
    );
    expect(envOf(template, 0)['HTTP_PROXY']).toBeDefined();
    expect(envOf(template, 1)['HTTP_PROXY']).toBeDefined();
    expect(envOf(template, 1)['X']).toBe('1');
    const migrate = template.spec.initContainers?.[1]?.env?.map((variable) => variable.name);
    expect(migrate).toEqual(['HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy']);
  });

  it('labels the pod and adds scrape annotations', () => {
    const template = injected(pod({ team: 'shop' }));
    expect(template.metadata?.labels).toEqual({ 'fender.dev/injected': 'true' });
    expect(template.metadata?.annotations).toEqual({
      team: 'shop',
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '7702',
      'prometheus.io/path': '/metrics',
    });
  });

  it("keeps the pod's own scrape annotations", () => {
    const own = { 'prometheus.io/port': '9100' };
    expect(injected(pod(own)).metadata?.annotations).toEqual(own);
  });

  it('does not modify its input', () => {
    const input = pod({ a: 'b' }, { volumes: [{ name: 'v', emptyDir: {} }] });
    const copy = structuredClone(input);
    injected(input);
    expect(input).toEqual(copy);
  });

  it('changes nothing on a second run', () => {
    const arbitraryPod = fc.record({
      annotations: fc.option(
        fc.dictionary(fc.constantFrom('team', 'fender.dev/config'), fc.constantFrom('a', 'b-c')),
      ),
      containers: fc.array(
        fc.record({
          name: fc.constantFrom('a', 'b', 'c'),
          env: fc.option(
            fc.array(
              fc.record({
                name: fc.constantFrom('X', 'HTTP_PROXY', 'no_proxy'),
                value: fc.string(),
              }),
            ),
          ),
        }),
        { minLength: 1, maxLength: 3 },
      ),
    });
    fc.assert(
      fc.property(arbitraryPod, ({ annotations, containers }) => {
        const first = injected(pod(annotations ?? undefined, { containers }));
        expect(injectPod(first, OPT_OUT)).toEqual({
          status: 'skipped',
          reason: 'already has a container named "fender"',
        });
      }),
      { numRuns: 100 },
    );
  });
});

describe('injectWorkload', () => {
  const deployment = (annotations?: Record<string, string>) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', ...(annotations === undefined ? {} : { annotations }) },
    spec: { template: { spec: { containers: [{ name: 'web' }] } } },
  });

  it('injects the pod template of each workload kind', () => {
    const paths: Record<string, string[]> = {
      Deployment: ['spec', 'template'],
      StatefulSet: ['spec', 'template'],
      DaemonSet: ['spec', 'template'],
      ReplicaSet: ['spec', 'template'],
      Job: ['spec', 'template'],
      CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
    };
    for (const [kind, path] of Object.entries(paths)) {
      const template = { spec: { containers: [{ name: 'app' }] } };
      let object: Record<string, unknown> = template;
      for (const key of [...path].reverse()) object = { [key]: object };
      const result = injectWorkload({ kind, ...object }, OPT_OUT);
      expect(result.status, kind).toBe('injected');
      expect(result.status === 'injected' ? result.path : undefined, kind).toEqual(path);
    }
  });

  it('honours disabled on the workload itself', () => {
    const result = injectWorkload(deployment({ 'fender.dev/inject': 'disabled' }), OPT_OUT);
    expect(result).toEqual({
      status: 'skipped',
      reason: 'annotation fender.dev/inject on the Deployment is "disabled"',
    });
  });

  it('leaves other kinds unsupported', () => {
    for (const object of [
      { kind: 'Service', spec: {} },
      { kind: 'PodTemplate' },
      { spec: {} },
      'text',
      null,
    ]) {
      expect(injectWorkload(object, OPT_OUT).status).toBe('unsupported');
    }
  });

  it('keeps the rest of the workload', () => {
    const input = {
      ...deployment(),
      spec: { replicas: 3, template: { spec: { containers: [{ name: 'web' }] } } },
    };
    const result = injectWorkload(input, OPT_OUT);
    expect(result.status).toBe('injected');
    if (result.status !== 'injected') return;
    expect(result.object['metadata']).toEqual({ name: 'web' });
    expect((result.object['spec'] as { replicas: number }).replicas).toBe(3);
  });
});

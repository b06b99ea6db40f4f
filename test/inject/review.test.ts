import { describe, expect, it } from 'vitest';
import { reviewAdmission } from '../../control/inject/review.ts';
import type { AdmissionReviewResponse } from '../../control/inject/review.ts';
import { injectWorkload } from '../../control/inject/workloads.ts';
import type { InjectOptions } from '../../control/inject/mutate.ts';
import { validateObject } from '../k8s/schema.ts';
import { applyPatch } from './patch-apply.ts';

const OPT_OUT: InjectOptions = {
  image: 'fender:test',
  clusterDomain: 'cluster.local',
  mode: 'opt-out',
};
const OPT_IN: InjectOptions = { ...OPT_OUT, mode: 'opt-in' };
const UID = '705ab4f5-6393-11e8-b7cc-42010a800002';

/** Builds a pod as the API server sends it at CREATE for a Deployment's ReplicaSet. */
function replicaPod(annotations: Record<string, string> = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'web-7d4b9c-',
      namespace: 'shop',
      labels: { app: 'web', 'pod-template-hash': '7d4b9c' },
      annotations,
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: 'web-7d4b9c',
          uid: 'x',
          controller: true,
        },
      ],
    },
    spec: {
      containers: [
        {
          name: 'web',
          image: 'web:1',
          env: [{ name: 'PORT', value: '8080' }],
          volumeMounts: [
            {
              name: 'kube-api-access-abcde',
              mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
            },
          ],
        },
      ],
      volumes: [{ name: 'kube-api-access-abcde', projected: { sources: [] } }],
    },
  };
}

function review(object: unknown, overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: UID,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'shop',
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object,
      oldObject: null,
      dryRun: false,
      ...overrides,
    },
  });
}

function decodePatch(
  response: AdmissionReviewResponse['response'],
): { op: string; path: string; value: unknown }[] {
  expect(response.patchType).toBe('JSONPatch');
  expect(response.patch).toBeTypeOf('string');

  return JSON.parse(Buffer.from(response.patch ?? '', 'base64').toString('utf8'));
}

describe('reviewAdmission', () => {
  it('returns a JSONPatch for a pod to inject', () => {
    const object = replicaPod();
    const outcome = reviewAdmission(review(object), OPT_OUT);
    expect(outcome.status).toBe(200);
    expect(outcome.body.apiVersion).toBe('admission.k8s.io/v1');
    expect(outcome.body.kind).toBe('AdmissionReview');
    expect(outcome.body.response.uid).toBe(UID);
    expect(outcome.body.response.allowed).toBe(true);
    expect(outcome.log).toMatchObject({
      result: 'injected',
      namespace: 'shop',
      name: 'web-7d4b9c-*',
    });

    const operations = decodePatch(outcome.body.response);
    expect(operations.every((operation) => operation.op === 'add')).toBe(true);
    expect(operations.map((operation) => operation.path)).toEqual([
      '/metadata/labels',
      '/metadata/annotations',
      '/spec/initContainers',
      '/spec/containers/0/env',
      '/spec/volumes',
    ]);
  });

  it('patches to what fenderctl inject prints', () => {
    const object = replicaPod();
    const operations = decodePatch(reviewAdmission(review(object), OPT_OUT).body.response);
    const patched = applyPatch(object, operations);
    const expected = injectWorkload(object, OPT_OUT);
    expect(expected.status).toBe('injected');
    expect(patched).toEqual(expected.status === 'injected' ? expected.object : undefined);
    expect(() => validateObject(patched)).not.toThrow();
  });

  it('keeps the service account volume and the app env', () => {
    const object = replicaPod();
    const patched = applyPatch(
      object,
      decodePatch(reviewAdmission(review(object), OPT_OUT).body.response),
    ) as {
      spec: { volumes: { name: string }[]; containers: { env: { name: string }[] }[] };
    };
    expect(patched.spec.volumes.map((volume) => volume.name)).toEqual([
      'kube-api-access-abcde',
      'fender-config',
      'fender-state',
    ]);
    expect(patched.spec.containers[0]?.env.map((variable) => variable.name)).toEqual([
      'PORT',
      'HTTP_PROXY',
      'http_proxy',
      'NO_PROXY',
      'no_proxy',
    ]);
  });

  it('adds metadata whole when the pod has none', () => {
    const object = { apiVersion: 'v1', kind: 'Pod', spec: { containers: [{ name: 'a' }] } };
    const operations = decodePatch(reviewAdmission(review(object), OPT_OUT).body.response);
    expect(operations[0]?.path).toBe('/metadata');
    expect(() => applyPatch(object, operations)).not.toThrow();
  });

  it('patches the template of a workload review', () => {
    const object = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: {
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web' }] } },
      },
    };
    const outcome = reviewAdmission(
      review(object, { kind: { group: 'apps', version: 'v1', kind: 'Deployment' } }),
      OPT_OUT,
    );
    const operations = decodePatch(outcome.body.response);
    expect(operations.every((operation) => operation.path.startsWith('/spec/template/'))).toBe(
      true,
    );
    expect(() => validateObject(applyPatch(object, operations))).not.toThrow();
  });

  it('answers without a patch when the pod is not opted in', () => {
    const outcome = reviewAdmission(review(replicaPod()), OPT_IN);
    expect(outcome.status).toBe(200);
    expect(outcome.body.response).toEqual({ uid: UID, allowed: true });
    expect(outcome.log).toMatchObject({ result: 'skipped' });
  });

  it('injects an opted-in pod on the opt-in path', () => {
    const outcome = reviewAdmission(review(replicaPod({ 'fender.dev/inject': 'enabled' })), OPT_IN);
    expect(outcome.body.response.patchType).toBe('JSONPatch');
  });

  it('answers without a patch for a disabled or injected pod', () => {
    const disabled = reviewAdmission(
      review(replicaPod({ 'fender.dev/inject': 'disabled' })),
      OPT_OUT,
    );
    expect(disabled.body.response).toEqual({ uid: UID, allowed: true });
    const pod = replicaPod();
    const once = applyPatch(pod, decodePatch(reviewAdmission(review(pod), OPT_OUT).body.response));
    expect(reviewAdmission(review(once), OPT_OUT).body.response).toEqual({
      uid: UID,
      allowed: true,
    });
  });

  it('warns when it cannot inject', () => {
    const outcome = reviewAdmission(review(replicaPod({ 'fender.dev/inject': 'yes' })), OPT_OUT);
    expect(outcome.body.response.allowed).toBe(true);
    expect(outcome.body.response.patch).toBeUndefined();
    expect(outcome.body.response.warnings).toEqual([
      'fender sidecar not injected: annotation fender.dev/inject is "yes"; expected "enabled" or "disabled"',
    ]);
  });

  it('leaves operations other than CREATE alone', () => {
    const outcome = reviewAdmission(review(replicaPod(), { operation: 'UPDATE' }), OPT_OUT);
    expect(outcome.body.response).toEqual({ uid: UID, allowed: true });
  });

  it('allows an object it cannot read, with a warning', () => {
    const outcome = reviewAdmission(review({ kind: 'Pod', spec: { containers: 'web' } }), OPT_OUT);
    expect(outcome.status).toBe(200);
    expect(outcome.body.response.allowed).toBe(true);
    expect(outcome.body.response.warnings?.[0]).toContain(
      'invalid pod template at spec.containers',
    );
  });
});

describe('reviewAdmission on malformed reviews', () => {
  const cases: [string, string, string, string][] = [
    ['not JSON', '{"apiVersion":', '', 'the request body is not JSON'],
    ['empty body', '', '', 'the request body is not JSON'],
    ['a JSON array', '[]', '', 'not an admission.k8s.io/v1 AdmissionReview: (root)'],
    [
      'an old apiVersion',
      review(replicaPod()).replace('admission.k8s.io/v1', 'admission.k8s.io/v1beta1'),
      UID,
      'apiVersion',
    ],
    [
      'no request',
      JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }),
      '',
      'request',
    ],
    ['no uid', review(replicaPod(), { uid: undefined }), '', 'request.uid'],
    ['a numeric uid', review(replicaPod(), { uid: 7 }), '', 'request.uid'],
    ['no kind', review(replicaPod(), { kind: undefined }), UID, 'request.kind'],
    ['no operation', review(replicaPod(), { operation: undefined }), UID, 'request.operation'],
  ];

  it.each(cases)('answers 400 to %s', (_name, body, uid, message) => {
    const outcome = reviewAdmission(body, OPT_OUT);
    expect(outcome.status).toBe(400);
    expect(outcome.body.apiVersion).toBe('admission.k8s.io/v1');
    expect(outcome.body.response.uid).toBe(uid);
    expect(outcome.body.response.allowed).toBe(false);
    expect(outcome.body.response.status?.code).toBe(400);
    expect(outcome.body.response.status?.message).toContain(message);
    expect(outcome.log).toMatchObject({ result: 'malformed' });
  });
});

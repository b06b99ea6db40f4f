import { X509Certificate } from 'node:crypto';
import { request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPT_IN_PATH, OPT_OUT_PATH, startInjector } from '../../control/inject/server.ts';
import type { RunningInjector } from '../../control/inject/server.ts';
import { SecretVolume, makeCa, makeServingCert } from './certs.ts';
import type { Pem } from './certs.ts';

// The injector over real TLS on loopback, with a certificate chain made for
// the test and rotated the way the kubelet updates a Secret volume.

interface Reply {
  readonly status: number;
  readonly body: string;
  /** SHA-256 fingerprint of the certificate the server presented. */
  readonly fingerprint: string;
}

function send(
  port: number,
  ca: string,
  method: string,
  path: string,
  body?: string,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        ca,
        agent: false,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            fingerprint: (res.socket as TLSSocket).getPeerCertificate().fingerprint256,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function fingerprintOf(pem: Pem): string {
  return new X509Certificate(pem.cert).fingerprint256;
}

/** Polls until the server presents `expected`, for at most `timeoutMs` of real time. */
async function waitForCertificate(
  port: number,
  ca: string,
  expected: string,
  timeoutMs = 5000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let seen = '';
  while (Date.now() < deadline) {
    seen = (await send(port, ca, 'GET', '/healthz')).fingerprint;
    if (seen === expected) return seen;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  return seen;
}

function podReview(annotations: Record<string, string> = {}): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'b1c2d3',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      operation: 'CREATE',
      namespace: 'shop',
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { generateName: 'web-', annotations },
        spec: { containers: [{ name: 'web', image: 'web:1' }] },
      },
    },
  });
}

describe('injector over TLS', () => {
  let ca: Pem;
  let first: Pem;
  let volume: SecretVolume;
  let injector: RunningInjector;
  let ready = true;
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => lines.push(JSON.parse(line)) },
  );

  beforeAll(async () => {
    ca = await makeCa();
    first = await makeServingCert(ca);
    volume = new SecretVolume({ 'tls.crt': first.cert, 'tls.key': first.key });
    injector = await startInjector({
      host: '127.0.0.1',
      port: 0,
      certFile: volume.certFile,
      keyFile: volume.keyFile,
      cluster: { image: 'fender:test', clusterDomain: 'cluster.local' },
      logger,
      ready: () => ready,
      certPollMs: 60_000,
    });
  });

  afterAll(async () => {
    await injector?.close();
    volume?.remove();
  });

  it('serves the mounted certificate', async () => {
    const reply = await send(injector.port, ca.cert, 'GET', '/healthz');
    expect(reply.status).toBe(200);
    expect(reply.fingerprint).toBe(fingerprintOf(first));
  });

  it('returns a JSONPatch on the opt-out path', async () => {
    const reply = await send(injector.port, ca.cert, 'POST', OPT_OUT_PATH, podReview());
    expect(reply.status).toBe(200);
    const body = JSON.parse(reply.body);
    expect(body.response.uid).toBe('b1c2d3');
    expect(body.response.allowed).toBe(true);
    expect(body.response.patchType).toBe('JSONPatch');
    const operations = JSON.parse(Buffer.from(body.response.patch, 'base64').toString('utf8'));
    expect(operations.map((operation: { path: string }) => operation.path)).toContain(
      '/spec/initContainers',
    );
  });

  it('needs the annotation on the opt-in path', async () => {
    const plain = JSON.parse(
      (await send(injector.port, ca.cert, 'POST', OPT_IN_PATH, podReview())).body,
    );
    expect(plain.response).toEqual({ uid: 'b1c2d3', allowed: true });
    const annotated = podReview({ 'fender.dev/inject': 'enabled' });
    const injected = JSON.parse(
      (await send(injector.port, ca.cert, 'POST', OPT_IN_PATH, annotated)).body,
    );
    expect(injected.response.patchType).toBe('JSONPatch');
  });

  it('answers a malformed review with an error', async () => {
    const reply = await send(injector.port, ca.cert, 'POST', OPT_IN_PATH, '{"not": "a review"');
    expect(reply.status).toBe(400);
    const body = JSON.parse(reply.body);
    expect(body.response.allowed).toBe(false);
    expect(body.response.status.message).toContain('not JSON');
    const after = await send(injector.port, ca.cert, 'GET', '/healthz');
    expect(after.status).toBe(200);
  });

  it('rejects a body over the size limit', async () => {
    const reply = await send(
      injector.port,
      ca.cert,
      'POST',
      OPT_IN_PATH,
      'x'.repeat(7 * 1024 * 1024),
    );
    expect(reply.status).toBe(413);
    expect(JSON.parse(reply.body).error).toBe('request_too_large');
  });

  it('answers unknown paths with 404', async () => {
    const reply = await send(injector.port, ca.cert, 'GET', '/mutate');
    expect(reply.status).toBe(404);
    expect(JSON.parse(reply.body).message).toContain(OPT_IN_PATH);
  });

  it('turns readiness off while shutting down', async () => {
    expect((await send(injector.port, ca.cert, 'GET', '/readyz')).status).toBe(200);
    ready = false;
    expect((await send(injector.port, ca.cert, 'GET', '/readyz')).status).toBe(503);
    ready = true;
  });

  it('logs every review', () => {
    const reviews = lines.filter((line) => line['msg'] === 'admission review');
    expect(reviews.length).toBeGreaterThanOrEqual(4);
    expect(reviews).toContainEqual(
      expect.objectContaining({ uid: 'b1c2d3', result: 'injected', mode: 'opt-out' }),
    );
    expect(reviews).toContainEqual(expect.objectContaining({ result: 'malformed', level: 40 }));
  });

  it('reloads a rotated certificate', async () => {
    const second = await makeServingCert(ca);
    volume.publish({ 'tls.crt': second.cert, 'tls.key': second.key });
    expect(await waitForCertificate(injector.port, ca.cert, fingerprintOf(second))).toBe(
      fingerprintOf(second),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({
        msg: 'TLS certificate reloaded',
        fingerprint: fingerprintOf(second),
      }),
    );

    // A second rotation, after the directory the first one used is gone.
    const third = await makeServingCert(ca);
    volume.publish({ 'tls.crt': third.cert, 'tls.key': third.key });
    expect(await waitForCertificate(injector.port, ca.cert, fingerprintOf(third))).toBe(
      fingerprintOf(third),
    );
  });

  it('keeps serving when a rotation is invalid', async () => {
    const before = (await send(injector.port, ca.cert, 'GET', '/healthz')).fingerprint;
    const other = await makeServingCert(ca);
    const mismatched = await makeServingCert(ca);
    volume.publish({ 'tls.crt': other.cert, 'tls.key': mismatched.key });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect((await send(injector.port, ca.cert, 'GET', '/healthz')).fingerprint).toBe(before);
    expect(lines).toContainEqual(
      expect.objectContaining({
        msg: 'new TLS certificate not loaded; still serving the previous one',
      }),
    );

    volume.publish({ 'tls.crt': other.cert, 'tls.key': other.key });
    expect(await waitForCertificate(injector.port, ca.cert, fingerprintOf(other))).toBe(
      fingerprintOf(other),
    );
  });
});

describe('startInjector', () => {
  it('fails to start without a usable certificate', async () => {
    const logger = pino({ level: 'silent' });
    const options = {
      host: '127.0.0.1',
      port: 0,
      cluster: { image: 'fender:test', clusterDomain: 'cluster.local' },
      logger,
      ready: () => true,
    };
    await expect(
      startInjector({
        ...options,
        certFile: '/nonexistent/tls.crt',
        keyFile: '/nonexistent/tls.key',
      }),
    ).rejects.toThrow(/ENOENT/);
    const ca = await makeCa();
    const a = await makeServingCert(ca);
    const b = await makeServingCert(ca);
    const volume = new SecretVolume({ 'tls.crt': a.cert, 'tls.key': b.key });
    try {
      await expect(
        startInjector({ ...options, certFile: volume.certFile, keyFile: volume.keyFile }),
      ).rejects.toThrow(/key values mismatch/);
    } finally {
      volume.remove();
    }
  });
});

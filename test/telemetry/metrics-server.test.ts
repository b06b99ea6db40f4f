import { Gauge, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { BoundListener } from '../../agent/telemetry/listen.ts';
import { createMetrics } from '../../agent/telemetry/metrics.ts';
import { startMetricsServer } from '../../agent/telemetry/metrics-server.ts';
import type { Readiness } from '../../agent/telemetry/metrics-server.ts';

describe('metrics listener', () => {
  let server: BoundListener | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function start(registry: Registry, ready: () => Readiness): Promise<string> {
    server = await startMetricsServer({ host: '127.0.0.1', port: 0, registry, ready });

    return `http://127.0.0.1:${server.port}`;
  }

  it('serves the registry in the Prometheus text format', async () => {
    const metrics = createMetrics({
      breakers: () => [{ key: 'api.example.com', state: 'closed' }],
      configHash: () => 'abc',
    });
    const base = await start(metrics.registry, () => ({ ready: true }));
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();
    expect(text).toContain('fender_breaker_state{host="api.example.com",state="closed"} 1');
    expect(text).toContain('fender_config_info{hash="abc"} 1');
    expect(text).toContain('process_cpu_seconds_total');
  });

  it('answers liveness whatever readiness says', async () => {
    const base = await start(new Registry(), () => ({ ready: false, reason: 'draining' }));
    const response = await fetch(`${base}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('answers readiness from the agent', async () => {
    let readiness: Readiness = { ready: false, reason: 'starting' };
    const base = await start(new Registry(), () => readiness);
    const starting = await fetch(`${base}/readyz`);
    expect(starting.status).toBe(503);
    expect(await starting.json()).toEqual({ status: 'not_ready', reason: 'starting' });

    readiness = { ready: true };
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });

    readiness = { ready: false, reason: 'draining' };
    const draining = await fetch(`${base}/readyz`);
    expect(draining.status).toBe(503);
    expect(await draining.json()).toEqual({ status: 'not_ready', reason: 'draining' });
  });

  it('answers HEAD probes', async () => {
    const base = await start(new Registry(), () => ({ ready: true }));
    const response = await fetch(`${base}/healthz`, { method: 'HEAD' });
    expect(response.status).toBe(200);
  });

  it('serves nothing else', async () => {
    const base = await start(new Registry(), () => ({ ready: true }));
    for (const [method, path] of [
      ['GET', '/breakers'],
      ['POST', '/metrics'],
      ['POST', '/config/reload'],
    ]) {
      const response = await fetch(`${base}${path}`, { method });
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(((await response.json()) as { error: string }).error).toBe('not_found');
    }
  });

  it('fails the scrape when a collector throws', async () => {
    const registry = new Registry();
    new Gauge({
      name: 'broken_gauge',
      help: 'A gauge whose collector throws.',
      registers: [registry],
      collect() {
        throw new Error('cache stats unavailable');
      },
    });
    const base = await start(registry, () => ({ ready: true }));
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({
      error: 'internal_error',
      message: 'collecting metrics failed: cache stats unavailable',
    });
  });
});

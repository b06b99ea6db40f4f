import { Hono } from 'hono';
import type { Registry } from 'prom-client';
import { listenApp } from './listen.ts';
import type { BoundListener } from './listen.ts';

// The metrics listener: what Prometheus scrapes and what the kubelet probes.
// It binds the pod IP by default, so it serves nothing that changes state.

export interface Readiness {
  readonly ready: boolean;
  /** The reason the agent is not ready (`starting`, `draining`), shown in the 503 body. */
  readonly reason?: string;
}

export interface MetricsServerOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  /** Called on every `/readyz`: ready only with config loaded, listeners bound and no drain under way. */
  readonly ready: () => Readiness;
}

export function metricsApp(options: Pick<MetricsServerOptions, 'registry' | 'ready'>): Hono {
  const app = new Hono();
  app.get('/metrics', async (c) => {
    const body = await options.registry.metrics();

    return c.body(body, 200, { 'content-type': options.registry.contentType });
  });
  // Liveness: any response is the signal, so it checks nothing else. A
  // failing dependency must not make the kubelet restart the sidecar.
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => {
    const readiness = options.ready();
    if (readiness.ready) return c.json({ status: 'ready' });

    return c.json({ status: 'not_ready', reason: readiness.reason ?? 'not ready' }, 503);
  });
  app.notFound((c) => {
    const message = `no such endpoint: ${c.req.method} ${c.req.path}; the metrics listener serves GET /metrics, /healthz and /readyz`;

    return c.json({ error: 'not_found', message }, 404);
  });
  // A failing collect callback fails the scrape (Prometheus records up=0)
  // with the reason, instead of serving a partial exposition.
  app.onError((error, c) =>
    c.json(
      { error: 'internal_error', message: `collecting metrics failed: ${error.message}` },
      500,
    ),
  );

  return app;
}

/** Binds the metrics listener; resolves once it accepts connections. */
export function startMetricsServer(options: MetricsServerOptions): Promise<BoundListener> {
  return listenApp(metricsApp(options), 'metrics', options.host, options.port);
}

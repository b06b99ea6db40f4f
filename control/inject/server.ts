import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import type { Handler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Logger } from 'pino';
import type { ClusterSettings } from './settings.ts';
import type { InjectMode } from './mutate.ts';
import { reviewAdmission } from './review.ts';
import { readKeyPair, watchKeyPair } from './tls.ts';

// The sidecar injector: a mutating admission webhook over HTTPS. Two paths,
// one per webhook entry of the MutatingWebhookConfiguration, because a
// review does not carry the namespace's labels: the entry's
// namespaceSelector decides which path the API server calls.

/** Path for pods in namespaces without the label: inject only those annotated `enabled`. */
export const OPT_IN_PATH = '/inject';
/** Path for pods in namespaces labelled `fender.dev/inject=enabled`: inject all but those annotated `disabled`. */
export const OPT_OUT_PATH = '/inject/namespace';

// A CREATE review carries one object, and the API server rejects request
// bodies over 3 MiB (k8s.io/apiserver's default MaxRequestBodyBytes), so
// twice that is ample.
const MAX_REVIEW_BYTES = 6 * 1024 * 1024;

export interface InjectorAppOptions {
  readonly cluster: ClusterSettings;
  readonly logger: Logger;
  /** false while shutting down, so the Service stops sending reviews here. */
  readonly ready: () => boolean;
}

function reviewHandler(options: InjectorAppOptions, mode: InjectMode): Handler {
  return async (c) => {
    const started = performance.now();
    const outcome = reviewAdmission(await c.req.text(), { ...options.cluster, mode });
    const durationMs = Math.round((performance.now() - started) * 10) / 10;
    const level = outcome.status === 200 && outcome.log['result'] !== 'rejected' ? 'info' : 'warn';
    options.logger[level]({ ...outcome.log, mode, durationMs }, 'admission review');

    return c.json(outcome.body, outcome.status);
  };
}

/** Builds the webhook's routes: the two review paths and the probes. */
export function injectorApp(options: InjectorAppOptions): Hono {
  const { logger } = options;
  const app = new Hono();
  app.use(
    bodyLimit({
      maxSize: MAX_REVIEW_BYTES,
      onError: (c) => {
        const message = `the request body is over ${MAX_REVIEW_BYTES} bytes`;
        logger.warn({ path: c.req.path }, message);

        return c.json({ error: 'request_too_large', message }, 413);
      },
    }),
  );
  app.post(OPT_IN_PATH, reviewHandler(options, 'opt-in'));
  app.post(OPT_OUT_PATH, reviewHandler(options, 'opt-out'));
  app.get('/healthz', (c) => c.text('ok\n'));
  app.get('/readyz', (c) => (options.ready() ? c.text('ready\n') : c.text('shutting down\n', 503)));
  app.notFound((c) => {
    const message = `no such endpoint: ${c.req.method} ${c.req.path}; reviews go to POST ${OPT_IN_PATH} or ${OPT_OUT_PATH}`;

    return c.json({ error: 'not_found', message }, 404);
  });
  app.onError((error, c) => {
    logger.error({ err: error, path: c.req.path }, 'admission review failed');

    return c.json(
      { error: 'internal_error', message: 'the injector failed; its log has the details' },
      500,
    );
  });

  return app;
}

export interface InjectorServerOptions extends InjectorAppOptions {
  /** undefined binds every address, IPv6 included. */
  readonly host?: string;
  readonly port: number;
  readonly certFile: string;
  readonly keyFile: string;
  /** Certificate poll interval in milliseconds (default 60 s). */
  readonly certPollMs?: number;
}

export interface RunningInjector {
  readonly server: Server;
  readonly port: number;
  /** Stops the certificate watch and closes the server, ending idle keep-alive connections. */
  close(): Promise<void>;
}

/** Reads the certificate (throwing if it is unusable), starts the HTTPS server and follows certificate rotations. */
export async function startInjector(options: InjectorServerOptions): Promise<RunningInjector> {
  const { logger } = options;
  const pair = readKeyPair(options.certFile, options.keyFile);
  const listener = getRequestListener(injectorApp(options).fetch, { overrideGlobalObjects: false });
  const server = createServer({ cert: pair.cert, key: pair.key }, listener);
  server.on('tlsClientError', (error) => logger.debug({ err: error }, 'TLS handshake failed'));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const stopWatch = watchKeyPair({
    certFile: options.certFile,
    keyFile: options.keyFile,
    current: pair,
    logger,
    onChange: (next) => server.setSecureContext({ cert: next.cert, key: next.key }),
    ...(options.certPollMs === undefined ? {} : { pollMs: options.certPollMs }),
  });
  logger.info({ port, fingerprint: pair.fingerprint, validTo: pair.validTo }, 'injector listening');

  return {
    server,
    port,
    close: async () => {
      stopWatch();
      server.closeIdleConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

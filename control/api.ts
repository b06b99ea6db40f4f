import { isIP } from 'node:net';
import { Hono } from 'hono';
import type { MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import type { AgentControl } from '../agent/control-surface.ts';
import { requestIdOf } from '../agent/proxy/exchange.ts';
import { listenApp } from '../agent/telemetry/listen.ts';
import type { BoundListener } from '../agent/telemetry/listen.ts';
import { bearerAuth, readTokenDigest } from './auth.ts';
import { ControlError } from './errors.ts';
import type { ControlEnv } from './errors.ts';
import { breakerRoutes } from './routes/breakers.ts';
import { cacheRoutes } from './routes/cache.ts';
import { configRoutes } from './routes/config.ts';

// The control API: reads and commands one running agent through
// AgentControl. It binds loopback by default, so only containers of the
// same pod reach it; a token file adds bearer auth for anything wider.

export interface ControlServerOptions {
  readonly host: string;
  readonly port: number;
  readonly agent: AgentControl;
  /** File holding the bearer token; read once at start. */
  readonly tokenFile?: string;
  readonly logger: Logger;
}

export interface ControlAppOptions {
  readonly agent: AgentControl;
  readonly logger: Logger;
  /** SHA-256 of the bearer token; without it every caller is let in. */
  readonly tokenDigest?: Buffer;
}

export function controlApp(options: ControlAppOptions): Hono<ControlEnv> {
  const { agent, logger } = options;
  const app = new Hono<ControlEnv>();
  app.use(async (c, next) => {
    c.set('requestId', requestIdOf(c.env.incoming));
    c.set('remoteAddress', c.env.incoming.socket.remoteAddress ?? 'unknown');
    c.header('x-request-id', c.get('requestId'));
    await next();
  });
  app.use(rejectBrowsers);
  if (options.tokenDigest !== undefined) app.use(bearerAuth(options.tokenDigest));
  app.route('/breakers', breakerRoutes(agent, logger));
  app.route('/config', configRoutes(agent, logger));
  app.route('/cache', cacheRoutes(agent, logger));
  app.notFound((c) => {
    const message = `no such endpoint: ${c.req.method} ${c.req.path}; see /breakers, /config and /cache`;

    return c.json({ error: 'not_found', message, requestId: c.get('requestId') }, 404);
  });
  app.onError((error, c) => {
    const requestId = c.get('requestId');
    if (error instanceof ControlError) {
      if (error.status === 401) c.header('www-authenticate', 'Bearer realm="fender-control"');

      return c.json(
        { error: error.code, message: error.message, requestId, ...error.details },
        error.status,
      );
    }
    logger.error(
      { err: error, requestId, method: c.req.method, path: c.req.path },
      'control API request failed',
    );

    return c.json(
      {
        error: 'internal_error',
        message: 'the agent failed to handle the request; its log has the details',
        requestId,
      },
      500,
    );
  });

  return app;
}

/**
 * Browsers send `Origin` on every cross-site POST and DELETE, and a page can
 * send those to 127.0.0.1 without a preflight. fenderctl, curl and scripts
 * never send it, so rejecting it stops a web page from driving the API.
 */
const rejectBrowsers: MiddlewareHandler<ControlEnv> = async (c, next) => {
  const origin = c.req.header('origin');
  if (origin !== undefined) {
    throw new ControlError(
      403,
      'forbidden_origin',
      `requests from web pages (Origin: ${origin}) are not accepted; use fenderctl or curl`,
    );
  }
  await next();
};

/** Reads the token file, binds the control listener and resolves once it accepts connections. */
export async function startControlServer(options: ControlServerOptions): Promise<BoundListener> {
  const tokenDigest =
    options.tokenFile === undefined ? undefined : readTokenDigest(options.tokenFile);
  if (tokenDigest === undefined && !isLoopback(options.host)) {
    options.logger.warn(
      { host: options.host, port: options.port },
      'control listener binds a non-loopback address without listeners.control.tokenFile: anyone who reaches it can open breakers and purge the cache',
    );
  }
  const app = controlApp({ agent: options.agent, logger: options.logger, tokenDigest });
  const listener = await listenApp(app, 'control', options.host, options.port);
  options.logger.info(
    { host: options.host, port: listener.port, auth: tokenDigest !== undefined },
    'control listener started',
  );

  return listener;
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');

  return host === '::1';
}

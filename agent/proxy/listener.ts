import {
  createServer,
  STATUS_CODES,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { getRequestListener } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono } from 'hono';
import type { RequestRecord } from '../telemetry/events.ts';
import { proxy, type ChainContext } from './chain.ts';
import { ERROR_STATUS, FenderError, sendError, type ErrorCode } from './errors.ts';
import { Exchange, type ConfigView } from './exchange.ts';

/** The parts of the agent the egress listener uses. */
export interface EgressAgent {
  readonly chain: ChainContext;
  /** The config new requests start with. */
  config(): ConfigView;
  /** Brackets every request, for draining. */
  requestStarted(): void;
  requestFinished(): void;
}

/** Largest request head accepted, in bytes; past it the client gets 431. */
export const MAX_HEADER_BYTES = 32 * 1024;

type Bindings = { incoming: IncomingMessage; outgoing: ServerResponse };

function errorOf(error: unknown, x: Exchange): FenderError {
  if (error instanceof FenderError) return error;
  // Not one of Fender's own failures: a bug. The client still gets a JSON
  // response, and the log line records what went wrong.
  x.detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);

  return new FenderError('upstream_reset', 'internal error while proxying the request');
}

function record(x: Exchange): RequestRecord {
  const route = x.route;
  const target = x.target;

  return {
    requestId: x.requestId,
    hostKey: route?.policy.key ?? '_unknown',
    host: route?.host ?? target?.authority ?? '',
    method: x.req.method ?? '',
    path: target?.path ?? '',
    // A response that never went out (the client left first) is logged with
    // the status of the error that ended the request.
    status: x.res.headersSent || x.error === undefined ? x.res.statusCode : x.error.status,
    attempts: x.attempts,
    durationMs: Date.now() - x.startedAt,
    ...(x.cache === undefined ? {} : { cache: x.cache }),
    ...(x.breaker === undefined ? {} : { breaker: x.breaker }),
    ...(x.error === undefined ? {} : { error: x.error.code }),
    ...(x.detail === undefined ? {} : { detail: x.detail }),
    ...(x.aborted ? { aborted: true } : {}),
  };
}

/** Runs one request through the chain; every failure ends in a response and a log line. */
function serve(agent: EgressAgent, incoming: IncomingMessage, outgoing: ServerResponse): void {
  const x = new Exchange(incoming, outgoing, agent.config());
  agent.requestStarted();
  proxy(agent.chain, x)
    .catch((error: unknown) => {
      const fenderError = errorOf(error, x);
      x.error = fenderError;
      sendError(
        outgoing,
        fenderError,
        x.route?.host ?? x.target?.authority ?? '',
        x.requestId,
        x.attempts,
      );
      // The body was not read (an early rejection): close rather than read it.
      if (!incoming.complete) outgoing.once('finish', () => incoming.destroy());
    })
    .finally(() => {
      x.done();
      agent.chain.telemetry.request(record(x));
      agent.requestFinished();
    });
}

/** The egress app: Hono routes every method and path to the proxy chain. */
export function createEgressApp(agent: EgressAgent): Hono<{ Bindings: Bindings }> {
  const app = new Hono<{ Bindings: Bindings }>();
  app.all('*', (c) => {
    serve(agent, c.env.incoming, c.env.outgoing);

    return RESPONSE_ALREADY_SENT;
  });

  return app;
}

function jsonResponse(code: ErrorCode, message: string): Response {
  const requestId = randomUUID();

  return new Response(JSON.stringify({ error: code, message, host: '', requestId }), {
    status: ERROR_STATUS[code],
    headers: {
      'content-type': 'application/json',
      'x-fender-error': code,
      'x-request-id': requestId,
    },
  });
}

/** Writes an error response on a raw socket, for requests Node rejects before any handler runs. */
function rawError(socket: Duplex, code: ErrorCode, message: string): void {
  if (!socket.writable) {
    socket.destroy();

    return;
  }
  const requestId = randomUUID();
  const body = JSON.stringify({ error: code, message, host: '', requestId });
  const status = ERROR_STATUS[code];
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? code}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `x-fender-error: ${code}\r\nx-request-id: ${requestId}\r\nconnection: close\r\n\r\n${body}`,
  );
}

export function createEgressServer(agent: EgressAgent): Server {
  const app = createEgressApp(agent);
  const listener = getRequestListener(app.fetch, {
    overrideGlobalObjects: false,
    autoCleanupIncoming: false,
    errorHandler: (error) =>
      jsonResponse('bad_request', `invalid request target: ${(error as Error).message}`),
  });
  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES, requestTimeout: 0 }, listener);
  server.keepAliveTimeout = 65_000;
  // Handling checkContinue stops Node from sending 100 Continue by itself:
  // the body is asked for only once the request passed route and limits.
  server.on('checkContinue', listener);

  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'HPE_HEADER_OVERFLOW') {
      rawError(
        socket,
        'headers_too_large',
        `request headers are larger than ${MAX_HEADER_BYTES} bytes`,
      );
    } else if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
    } else {
      rawError(socket, 'bad_request', `malformed HTTP request (${error.code ?? error.message})`);
    }
  });
  // CONNECT tunnels carry TLS that Fender cannot see, so no policy could apply.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    rawError(
      socket,
      'method_not_allowed',
      'CONNECT is not supported: call http:// through Fender and configure an https:// upstream, so Fender originates TLS',
    );
  });

  return server;
}

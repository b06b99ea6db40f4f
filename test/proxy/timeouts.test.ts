import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  EPHEMERAL_LISTENERS,
  errorBody,
  send,
  startTestAgent,
  waitForLog,
  type TestAgent,
} from '../helpers/agent.ts';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.ts';

let agent: TestAgent | undefined;
let upstream: FakeUpstream | undefined;
let tcp: TcpServer | undefined;
const sockets = new Set<Socket>();

afterEach(async () => {
  await agent?.close();
  await upstream?.close();
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) =>
    tcp === undefined ? resolve() : tcp.close(() => resolve()),
  );
  agent = undefined;
  upstream = undefined;
  tcp = undefined;
});

function config(origin: string, timeouts: string, extra = ''): string {
  return `${EPHEMERAL_LISTENERS}
defaults:
  timeouts: ${timeouts}
  retry: { retries: 0 }
  breaker: { failures: 1 }
hosts:
  api.test:
    upstream: ${origin}
${extra}`;
}

/** Starts a TCP server that accepts and then stays silent, or writes `reply` raw. */
async function rawServer(reply?: string): Promise<number> {
  tcp = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    if (reply !== undefined) socket.once('data', () => socket.end(reply));
  });
  await new Promise<void>((resolve) => (tcp as TcpServer).listen(0, '127.0.0.1', resolve));

  return ((tcp as TcpServer).address() as AddressInfo).port;
}

describe('timeouts', () => {
  it('ends a connect that never completes with upstream_connect_failed', async () => {
    // A TLS upstream whose server never replies to the ClientHello: the
    // handshake is part of the connect phase.
    const port = await rawServer();
    agent = await startTestAgent(
      config(`https://127.0.0.1:${port}`, '{ connect: 300ms, read: 5s, total: 10s }'),
    );
    const started = Date.now();

    const response = await send(agent, 'api.test', '/');

    expect(response.status).toBe(502);
    expect(errorBody(response).error).toBe('upstream_connect_failed');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('ends slow response headers with 504 upstream_timeout', async () => {
    upstream = await startUpstream((_req, res) => setTimeout(() => res.end('late'), 3000));
    agent = await startTestAgent(
      config(upstream.origin, '{ connect: 1s, read: 300ms, total: 10s }'),
    );
    const started = Date.now();

    const response = await send(agent, 'api.test', '/');

    expect(response.status).toBe(504);
    expect(errorBody(response).error).toBe('upstream_timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(900);
  });

  it('aborts the client connection when the body stalls after the headers', async () => {
    upstream = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{');
    });
    agent = await startTestAgent(
      config(upstream.origin, '{ connect: 1s, read: 400ms, total: 5s }'),
    );
    const started = Date.now();

    const response = await send(agent, 'api.test', '/');

    expect(response.status).toBe(200);
    expect(response.error).toBeDefined();
    expect(response.body.toString()).toBe('{');
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    expect(Date.now() - started).toBeLessThan(1000);
    const line = await waitForLog(agent, (l) => l.msg === 'request');
    expect(line['aborted']).toBe(true);
    expect(agent.agent.getBreaker('api.test')?.state).toBe('open');
  });

  it('ends a request that outlives total with deadline_exceeded', async () => {
    upstream = await startUpstream((_req, res) => {
      res.writeHead(503).end();
    });
    const yaml = `${EPHEMERAL_LISTENERS}
defaults:
  timeouts: { connect: 1s, read: 2s, total: 500ms }
  retry: { retries: 10, backoff: { base: 100ms, max: 100ms, jitter: none }, budget: { ratio: 1, minPerSecond: 100, window: 10s } }
  breaker: { failures: 1000 }
hosts:
  api.test:
    upstream: ${upstream.origin}
`;
    agent = await startTestAgent(yaml);
    const started = Date.now();

    const response = await send(agent, 'api.test', '/');

    // Retries stop when the next one cannot fit; the last response goes back.
    expect(Date.now() - started).toBeLessThan(1000);
    expect(response.status).toBe(503);
    expect(upstream.received.length).toBeGreaterThanOrEqual(3);
    expect(upstream.received.length).toBeLessThanOrEqual(6);
  });

  it('answers a malformed upstream response with 502', async () => {
    const port = await rawServer('THIS IS NOT HTTP\r\n\r\n');
    agent = await startTestAgent(
      config(`http://127.0.0.1:${port}`, '{ connect: 1s, read: 2s, total: 5s }'),
    );

    const response = await send(agent, 'api.test', '/');

    expect(response.status).toBe(502);
    expect(errorBody(response).error).toBe('upstream_invalid_response');
  });

  it('answers a connection reset before the headers with 502 upstream_reset', async () => {
    upstream = await startUpstream((req) => req.socket.destroy());
    agent = await startTestAgent(config(upstream.origin, '{ connect: 1s, read: 2s, total: 5s }'));

    const response = await send(agent, 'api.test', '/');

    expect(response.status).toBe(502);
    expect(errorBody(response).error).toBe('upstream_reset');
  });

  it('cuts the client off when the upstream resets mid-body', async () => {
    upstream = await startUpstream((req, res) => {
      res.writeHead(200, { 'content-length': 1000 });
      res.write('x'.repeat(100));
      setTimeout(() => req.socket.destroy(), 50);
    });
    agent = await startTestAgent(config(upstream.origin, '{ connect: 1s, read: 2s, total: 5s }'));

    const response = await send(agent, 'api.test', '/');

    expect(response.error).toBeDefined();
    expect(response.body.length).toBe(100);
  });
});

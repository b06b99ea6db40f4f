import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  EPHEMERAL_LISTENERS,
  errorBody,
  send,
  startTestAgent,
  type TestAgent,
} from '../helpers/agent.ts';
import { startUpstream, type FakeUpstream, type UpstreamHandler } from '../helpers/upstream.ts';

// Stale-if-error, coalescing and body buffering against real loopback
// upstreams. Only Date is faked, so entries age on command while sockets
// and the agent's timers run in real time.

let agent: TestAgent | undefined;
let upstream: FakeUpstream | undefined;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-12-02T10:00:00Z') });
});

afterEach(async () => {
  vi.useRealTimers();
  await agent?.close();
  await upstream?.close();
  agent = undefined;
  upstream = undefined;
});

const MINUTE = 60_000;

async function start(handler: UpstreamHandler, host = '', top = ''): Promise<TestAgent> {
  upstream = await startUpstream(handler);
  agent = await startTestAgent(`${EPHEMERAL_LISTENERS}
defaults:
  retry: { retries: 0 }
${top}
hosts:
  api.test:
    upstream: ${upstream.origin}
    timeouts: { read: 300ms }
    cache: { enabled: true, ttl: 1m, staleIfError: 10m }
${host}
`);

  return agent;
}

/** Waits (in real time) until `condition` holds, failing after `ms`. */
async function until(condition: () => boolean, ms = 2_000): Promise<void> {
  for (const started = performance.now(); !condition(); await sleep(5)) {
    if (performance.now() - started > ms) throw new Error(`condition not met within ${ms} ms`);
  }
}

describe('stale-if-error', () => {
  it('serves a stale entry when the upstream answers 5xx', async () => {
    let failing = false;
    const running = await start((_req, res) => {
      if (failing) res.statusCode = 503;
      res.end(failing ? 'down' : 'good data');
    });
    await send(running, 'api.test', '/data');
    vi.setSystemTime(Date.now() + 2 * MINUTE);
    failing = true;

    const response = await send(running, 'api.test', '/data');

    expect(response.status).toBe(200);
    expect(response.headers['x-fender-cache']).toBe('STALE');
    expect(response.headers['age']).toBe('120');
    expect(response.body.toString()).toBe('good data');
    expect(upstream?.received).toHaveLength(2);
    expect(running.agent.getBreaker('api.test')?.failures).toBe(1);
  });

  it('serves a stale entry when the upstream is unreachable', async () => {
    const running = await start((_req, res) => res.end('good data'));
    await send(running, 'api.test', '/data');
    vi.setSystemTime(Date.now() + 2 * MINUTE);
    await upstream?.close();

    const response = await send(running, 'api.test', '/data');

    expect(response.headers['x-fender-cache']).toBe('STALE');
    expect(response.body.toString()).toBe('good data');
  });

  it('serves a stale entry when the upstream times out', async () => {
    let stall = false;
    const running = await start((_req, res) => {
      if (!stall) res.end('good data');
    });
    await send(running, 'api.test', '/data');
    vi.setSystemTime(Date.now() + 2 * MINUTE);
    stall = true;

    const response = await send(running, 'api.test', '/data');

    expect(response.headers['x-fender-cache']).toBe('STALE');
    expect(response.body.toString()).toBe('good data');
  });

  it('serves a stale entry while the breaker is open, without calling the upstream', async () => {
    const running = await start((_req, res) => res.end('good data'));
    await send(running, 'api.test', '/data');
    vi.setSystemTime(Date.now() + 2 * MINUTE);
    running.agent.overrideBreaker('api.test', 'forced_open');

    const stale = await send(running, 'api.test', '/data');
    const uncovered = await send(running, 'api.test', '/never-fetched');

    expect(stale.headers['x-fender-cache']).toBe('STALE');
    expect(uncovered.status).toBe(503);
    expect(errorBody(uncovered).error).toBe('circuit_open');
    expect(upstream?.received).toHaveLength(1);
  });

  it('answers fresh hits while the breaker is open', async () => {
    const running = await start((_req, res) => res.end('good data'));
    await send(running, 'api.test', '/data');
    running.agent.overrideBreaker('api.test', 'forced_open');

    const response = await send(running, 'api.test', '/data');

    expect(response.headers['x-fender-cache']).toBe('HIT');
    expect(upstream?.received).toHaveLength(1);
  });

  it('returns the failure past ttl plus staleIfError', async () => {
    const running = await start((_req, res) => res.end('good data'));
    await send(running, 'api.test', '/data');
    vi.setSystemTime(Date.now() + 11 * MINUTE + 1);
    running.agent.overrideBreaker('api.test', 'forced_open');

    const response = await send(running, 'api.test', '/data');

    expect(response.status).toBe(503);
    expect(response.headers['x-fender-cache']).toBe('MISS');
    expect(errorBody(response).error).toBe('circuit_open');
  });

  it('counts stale answers in the stats', async () => {
    const running = await start((_req, res) => res.end('good data'));
    await send(running, 'api.test', '/data');
    vi.setSystemTime(Date.now() + 2 * MINUTE);
    running.agent.overrideBreaker('api.test', 'forced_open');
    await send(running, 'api.test', '/data');

    expect(running.agent.cacheStats()).toMatchObject({ misses: 1, stale: 1, hits: 0 });
  });
});

describe('request coalescing', () => {
  it('sends one upstream request for concurrent misses', async () => {
    const held: Array<() => void> = [];
    const running = await start((_req, res) => held.push(() => res.end('shared body')));

    const responses = Array.from({ length: 5 }, () => send(running, 'api.test', '/hot'));
    await until(() => held.length === 1 && running.agent.activity().inFlight === 5);
    held[0]?.();
    const answered = await Promise.all(responses);

    expect(upstream?.received).toHaveLength(1);
    expect(answered.map((r) => r.body.toString())).toEqual(Array(5).fill('shared body'));
    expect(answered.filter((r) => r.headers['x-fender-cache'] === 'MISS')).toHaveLength(1);
    expect(answered.filter((r) => r.headers['x-fender-cache'] === 'HIT')).toHaveLength(4);
  });

  it('gives every waiter the failure when the shared request fails', async () => {
    const running = await start((req) => {
      void until(() => running.agent.activity().inFlight === 5).then(() => req.socket.destroy());
    });

    const started = performance.now();
    const answered = await Promise.all(
      Array.from({ length: 5 }, () => send(running, 'api.test', '/hot')),
    );

    expect(upstream?.received).toHaveLength(1);
    expect(answered.map((r) => r.status)).toEqual(Array(5).fill(502));
    expect(answered.map((r) => errorBody(r).error)).toEqual(Array(5).fill('upstream_reset'));
    expect(new Set(answered.map((r) => errorBody(r).requestId)).size).toBe(5);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('lets waiters fetch on their own when the leader client leaves', async () => {
    const held: Array<() => void> = [];
    const running = await start((_req, res, _body, index) => {
      if (index === 0) return; // the leader's request never gets a response
      held.push(() => res.end('own body'));
    });
    const { request } = await import('node:http');
    const leader = request({
      port: running.ports.egress,
      path: '/hot',
      headers: { host: 'api.test' },
      agent: false,
    });
    leader.on('error', () => {});
    leader.end();
    await until(() => upstream?.received.length === 1);
    const waiters = [send(running, 'api.test', '/hot'), send(running, 'api.test', '/hot')];
    await until(() => running.agent.activity().inFlight === 3);
    leader.destroy();
    await until(() => held.length === 2);
    for (const release of held) release();
    const answered = await Promise.all(waiters);

    expect(answered.map((r) => r.body.toString())).toEqual(['own body', 'own body']);
    expect(upstream?.received).toHaveLength(3);
  });

  it('ends a waiter at its own deadline', async () => {
    const held: Array<() => void> = [];
    const running = await start((_req, res) => held.push(() => res.end('late')));
    const leader = send(running, 'api.test', '/hot');
    await until(() => held.length === 1);

    const waiter = await send(running, 'api.test', '/hot', {
      headers: { 'x-fender-timeout': '100ms' },
    });
    held[0]?.();

    expect(waiter.status).toBe(504);
    expect(errorBody(waiter).error).toBe('deadline_exceeded');
    expect((await leader).body.toString()).toBe('late');
  });

  it('keeps variants apart while coalescing', async () => {
    const held: Array<() => void> = [];
    const running = await start((req, res) => {
      res.setHeader('vary', 'accept-language');
      held.push(() => res.end(`lang ${req.headers['accept-language']}`));
    });

    const de = send(running, 'api.test', '/greeting', { headers: { 'accept-language': 'de' } });
    const en = send(running, 'api.test', '/greeting', { headers: { 'accept-language': 'en' } });
    await until(() => held.length === 1 && running.agent.activity().inFlight === 2);
    held[0]?.();
    await until(() => held.length === 2);
    held[1]?.();

    expect((await de).body.toString()).toBe('lang de');
    expect((await en).body.toString()).toBe('lang en');
  });
});

describe('body buffering', () => {
  it('streams a body over maxEntryBytes through uncached', async () => {
    const chunk = Buffer.alloc(1024, 'a');
    let release: (() => void) | undefined;
    const running = await start(
      (_req, res, _body, index) => {
        res.write(chunk);
        res.write(chunk);
        if (index === 0) release = () => res.end(chunk);
        else res.end(chunk);
      },
      '',
      'cache: { maxEntryBytes: 1KiB }',
    );

    const response = send(running, 'api.test', '/big');
    // The client is sent the first 2 KiB while the upstream still withholds the end.
    await until(() => release !== undefined);
    await sleep(50);
    expect(running.agent.cacheStats().entries).toBe(0);
    release?.();
    const answered = await response;

    expect(answered.body.length).toBe(3 * 1024);
    expect(answered.headers['x-fender-cache']).toBe('MISS');
    expect((await send(running, 'api.test', '/big')).headers['x-fender-cache']).toBe('MISS');
    expect(upstream?.received).toHaveLength(2);
  });

  it('sends a streamed body before the upstream finishes', async () => {
    let release: (() => void) | undefined;
    const running = await start(
      (_req, res) => {
        res.write(Buffer.alloc(4096, 'b'));
        release = () => res.end();
      },
      '',
      'cache: { maxEntryBytes: 1KiB }',
    );
    const { request } = await import('node:http');
    const firstBytes = new Promise<number>((resolve, reject) => {
      const req = request({
        port: running.ports.egress,
        path: '/big',
        headers: { host: 'api.test' },
        agent: false,
      });
      req.on('response', (res) => res.once('data', (data: Buffer) => resolve(data.length)));
      req.on('error', reject);
      req.end();
    });

    expect(await firstBytes).toBeGreaterThan(0);
    release?.();
  });

  it('answers 504 and stores nothing when a buffered body stalls', async () => {
    const running = await start((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.write('{');
    });

    const response = await send(running, 'api.test', '/stall');

    expect(response.status).toBe(504);
    expect(errorBody(response).error).toBe('upstream_timeout');
    expect(running.agent.cacheStats().entries).toBe(0);
    expect(running.agent.getBreaker('api.test')?.failures).toBe(1);
  });
});

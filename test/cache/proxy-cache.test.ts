import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EPHEMERAL_LISTENERS, send, startTestAgent, type TestAgent } from '../helpers/agent.ts';
import { startUpstream, type FakeUpstream, type UpstreamHandler } from '../helpers/upstream.ts';

// The cache semantics end to end: a real agent in front of a real loopback
// upstream, requests sent as an application sends them.

let agent: TestAgent | undefined;
let upstream: FakeUpstream | undefined;

afterEach(async () => {
  await agent?.close();
  await upstream?.close();
  agent = undefined;
  upstream = undefined;
});

function keyFile(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'fender-cache-')), 'cache-key');
  writeFileSync(path, randomBytes(32));

  return path;
}

/** Starts the upstream and an agent with one cached host `api.test` (host cache settings in `cache`). */
async function start(
  handler: UpstreamHandler,
  cache = '{ enabled: true, ttl: 5m }',
  top = '',
): Promise<TestAgent> {
  upstream = await startUpstream(handler);
  agent = await startTestAgent(`${EPHEMERAL_LISTENERS}
defaults:
  retry: { retries: 0 }
${top}
hosts:
  api.test:
    upstream: ${upstream.origin}
    cache: ${cache}
  plain.test:
    upstream: ${upstream.origin}
`);

  return agent;
}

function received(): number {
  return upstream?.received.length ?? 0;
}

describe('proxy cache: hits and misses', () => {
  it('answers a repeat GET from the cache', async () => {
    const running = await start((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end('{"items":[1,2]}');
    });

    const miss = await send(running, 'api.test', '/v1/items?page=1');
    const hit = await send(running, 'api.test', '/v1/items?page=1');

    expect(miss.headers['x-fender-cache']).toBe('MISS');
    expect(miss.headers['age']).toBe('0');
    expect(hit.status).toBe(200);
    expect(hit.headers['x-fender-cache']).toBe('HIT');
    expect(hit.headers['age']).toBe('0');
    expect(hit.headers['content-type']).toBe('application/json');
    expect(hit.headers['x-fender-attempts']).toBe('0');
    expect(hit.headers['x-request-id']).not.toBe(miss.headers['x-request-id']);
    expect(hit.body.toString()).toBe('{"items":[1,2]}');
    expect(received()).toBe(1);
  });

  it('keys on the full query string', async () => {
    const running = await start((req, res) => res.end(req.url));

    await send(running, 'api.test', '/q?a=1');
    const other = await send(running, 'api.test', '/q?a=2');

    expect(other.headers['x-fender-cache']).toBe('MISS');
    expect(other.body.toString()).toBe('/q?a=2');
    expect(received()).toBe(2);
  });

  it('marks nothing on hosts without caching', async () => {
    const running = await start((_req, res) => res.end('x'));

    const response = await send(running, 'plain.test', '/');

    expect(response.headers['x-fender-cache']).toBeUndefined();
  });

  it('serves HEAD from a cached GET', async () => {
    const running = await start((_req, res) => res.end('document body'));
    await send(running, 'api.test', '/doc');

    const head = await send(running, 'api.test', '/doc', { method: 'HEAD' });

    expect(head.headers['x-fender-cache']).toBe('HIT');
    expect(head.headers['content-length']).toBe('13');
    expect(head.body.length).toBe(0);
    expect(received()).toBe(1);
  });

  it('revalidates on request Cache-Control: no-cache', async () => {
    let version = 0;
    const running = await start((_req, res) => res.end(`v${++version}`));
    await send(running, 'api.test', '/doc');

    const fresh = await send(running, 'api.test', '/doc', {
      headers: { 'cache-control': 'no-cache' },
    });
    const after = await send(running, 'api.test', '/doc');

    expect(fresh.headers['x-fender-cache']).toBe('MISS');
    expect(fresh.body.toString()).toBe('v2');
    expect(after.headers['x-fender-cache']).toBe('HIT');
    expect(after.body.toString()).toBe('v2');
  });

  it('marks writes BYPASS', async () => {
    const running = await start((_req, res) => res.end('ok'));

    const response = await send(running, 'api.test', '/items', { method: 'POST', body: '{}' });

    expect(response.headers['x-fender-cache']).toBe('BYPASS');
  });

  it('reports the lookups in the stats', async () => {
    const running = await start((_req, res) => res.end('x'));
    await send(running, 'api.test', '/a');
    await send(running, 'api.test', '/a');
    await send(running, 'api.test', '/b', { method: 'POST' });

    expect(running.agent.cacheStats()).toMatchObject({ entries: 1, hits: 1, misses: 1, bypass: 1 });
    expect(running.agent.cacheStats().bytes).toBeGreaterThan(0);
  });

  it('counts lookups in the metrics', async () => {
    const running = await start((_req, res) => res.end('x'));
    await send(running, 'api.test', '/a');
    await send(running, 'api.test', '/a');
    const metrics = await (await fetch(`${running.metricsUrl}/metrics`)).text();

    expect(metrics).toContain('fender_cache_lookups_total{host="api.test",result="hit"} 1');
    expect(metrics).toContain('fender_cache_lookups_total{host="api.test",result="miss"} 1');
    expect(metrics).toMatch(/fender_cache_entries 1\b/);
  });
});

describe('proxy cache: private data', () => {
  const me: UpstreamHandler = (req, res) => {
    res.setHeader('cache-control', 'max-age=60');
    res.end(`user ${req.headers.authorization ?? req.headers.cookie ?? 'anonymous'}`);
  };

  it('bypasses the cache for credentials by default', async () => {
    const running = await start(me);

    const alice = await send(running, 'api.test', '/me', {
      headers: { authorization: 'Bearer alice' },
    });
    const bob = await send(running, 'api.test', '/me', {
      headers: { authorization: 'Bearer bob' },
    });

    expect(alice.headers['x-fender-cache']).toBe('BYPASS');
    expect(bob.headers['x-fender-cache']).toBe('BYPASS');
    expect(bob.body.toString()).toBe('user Bearer bob');
    expect(received()).toBe(2);
  });

  it('keeps an entry per credential in encrypt mode', async () => {
    const cache = '{ enabled: true, ttl: 5m, private: encrypt }';
    const running = await start(me, cache, `cache: { privateKeyFile: ${keyFile()} }`);
    const as = (authorization: string) =>
      send(running, 'api.test', '/me', { headers: { authorization } });

    const alice = await as('Bearer alice');
    const bob = await as('Bearer bob');
    const aliceAgain = await as('Bearer alice');
    const bobAgain = await as('Bearer bob');

    expect([alice, bob].map((r) => r.headers['x-fender-cache'])).toEqual(['MISS', 'MISS']);
    expect([aliceAgain, bobAgain].map((r) => r.headers['x-fender-cache'])).toEqual(['HIT', 'HIT']);
    expect(aliceAgain.body.toString()).toBe('user Bearer alice');
    expect(bobAgain.body.toString()).toBe('user Bearer bob');
    expect(received()).toBe(2);
  });

  it('keys cookies like bearer tokens in encrypt mode', async () => {
    const cache = '{ enabled: true, ttl: 5m, private: encrypt }';
    const running = await start(me, cache, `cache: { privateKeyFile: ${keyFile()} }`);
    await send(running, 'api.test', '/me', { headers: { cookie: 'sid=a' } });

    const other = await send(running, 'api.test', '/me', { headers: { cookie: 'sid=b' } });

    expect(other.headers['x-fender-cache']).toBe('MISS');
    expect(other.body.toString()).toBe('user sid=b');
  });

  it.each([
    ['Set-Cookie', { 'set-cookie': 'sid=new', 'cache-control': 'max-age=60' }],
    ['private', { 'cache-control': 'private, max-age=60' }],
    ['no-store', { 'cache-control': 'no-store' }],
  ])('never shares a %s response', async (_name, headers) => {
    const running = await start((req, res) => {
      for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
      res.end(`user ${req.headers['x-user'] ?? 'anonymous'}`);
    });

    await send(running, 'api.test', '/me', { headers: { 'x-user': 'alice' } });
    const second = await send(running, 'api.test', '/me', { headers: { 'x-user': 'bob' } });

    expect(second.body.toString()).toBe('user bob');
    expect(second.headers['x-fender-cache']).toBe('MISS');
    expect(received()).toBe(2);
  });
});

describe('proxy cache: Vary', () => {
  const byLanguage: UpstreamHandler = (req, res) => {
    res.setHeader('vary', 'Accept-Language');
    res.end(`greeting in ${req.headers['accept-language']}`);
  };

  it.each([
    ['de', 'en'],
    ['en', 'de'],
  ])('serves each language its variant, %s first', async (first, second) => {
    const running = await start(byLanguage);
    const ask = (language: string) =>
      send(running, 'api.test', '/greeting', { headers: { 'accept-language': language } });

    await ask(first);
    await ask(second);
    const firstAgain = await ask(first);
    const secondAgain = await ask(second);

    expect(firstAgain.body.toString()).toBe(`greeting in ${first}`);
    expect(secondAgain.body.toString()).toBe(`greeting in ${second}`);
    expect(firstAgain.headers['x-fender-cache']).toBe('HIT');
    expect(secondAgain.headers['x-fender-cache']).toBe('HIT');
    expect(received()).toBe(2);
  });

  it('never serves Vary: * from the cache', async () => {
    const running = await start((_req, res) => {
      res.setHeader('vary', '*');
      res.end('anything');
    });

    await send(running, 'api.test', '/star');
    const second = await send(running, 'api.test', '/star');

    expect(second.headers['x-fender-cache']).toBe('MISS');
    expect(received()).toBe(2);
  });
});

describe('proxy cache: invalidation', () => {
  it('drops the path after a successful write', async () => {
    const running = await start((req, res) => {
      if (req.method === 'POST') {
        res.statusCode = 201;
        res.setHeader('location', '/items/9');
      }
      res.end(`${req.method} ${req.url}`);
    });
    await send(running, 'api.test', '/items?page=1');
    await send(running, 'api.test', '/items/9');

    await send(running, 'api.test', '/items', { method: 'POST', body: '{"name":"x"}' });
    const list = await send(running, 'api.test', '/items?page=1');
    const created = await send(running, 'api.test', '/items/9');

    expect(list.headers['x-fender-cache']).toBe('MISS');
    expect(created.headers['x-fender-cache']).toBe('MISS');
    expect(running.agent.cacheStats().invalidations).toBe(2);
  });

  it('keeps entries after a failed write', async () => {
    const running = await start((req, res) => {
      if (req.method === 'DELETE') res.statusCode = 409;
      res.end('x');
    });
    await send(running, 'api.test', '/items/1');

    await send(running, 'api.test', '/items/1', { method: 'DELETE' });

    expect((await send(running, 'api.test', '/items/1')).headers['x-fender-cache']).toBe('HIT');
  });

  it('purges by host and prefix through the control surface', async () => {
    const running = await start((_req, res) => res.end('x'));
    await send(running, 'api.test', '/v1/a');
    await send(running, 'api.test', '/v2/a');

    expect(running.agent.purgeCache({ host: 'API.test', prefix: '/v1' })).toBe(1);
    expect((await send(running, 'api.test', '/v1/a')).headers['x-fender-cache']).toBe('MISS');
    expect((await send(running, 'api.test', '/v2/a')).headers['x-fender-cache']).toBe('HIT');
  });
});

describe('proxy cache: reload', () => {
  it('keeps entries of unchanged hosts and drops changed ones', async () => {
    upstream = await startUpstream((_req, res) => res.end('x'));
    const config = (ttl: string) => `${EPHEMERAL_LISTENERS}
hosts:
  api.test:
    upstream: ${upstream?.origin}
    cache: { enabled: true, ttl: 5m }
  other.test:
    upstream: ${upstream?.origin}
    cache: { enabled: true, ttl: ${ttl} }
`;
    agent = await startTestAgent(config('5m'));
    await send(agent, 'api.test', '/a');
    await send(agent, 'other.test', '/a');
    writeFileSync(agent.configPath, config('1m'));

    expect(await agent.agent.reload('test')).toMatchObject({ ok: true, changed: true });
    expect((await send(agent, 'api.test', '/a')).headers['x-fender-cache']).toBe('HIT');
    expect((await send(agent, 'other.test', '/a')).headers['x-fender-cache']).toBe('MISS');
  });
});

import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ResponseCache, type CacheRequest } from '../../agent/cache/cache.ts';
import { CacheKeyring } from '../../agent/cache/crypto.ts';
import type { Snapshot } from '../../agent/config/types.ts';
import { CacheCounters } from '../../agent/cache/stats.ts';
import { cacheRequest, hostPolicy, MINUTE } from './helpers.ts';

type Upstream = (request: CacheRequest) => {
  status?: number;
  headers?: Record<string, string | string[]>;
  body: string;
};

interface Served {
  readonly cache: 'HIT' | 'MISS' | 'BYPASS';
  readonly body: string;
  readonly age?: number;
}

/** Runs cache-aside over the facade: lookup, else "fetch" from `upstream` and store. */
function serve(
  cache: ResponseCache,
  request: CacheRequest,
  upstream: Upstream,
  calls: CacheRequest[],
): Served {
  const plan = cache.plan(request);
  const fetch = () => {
    calls.push(request);
    const answer = upstream(request);

    return {
      status: answer.status ?? 200,
      headers: answer.headers ?? {},
      body: Buffer.from(answer.body),
    };
  };
  if (plan.kind === 'bypass') return { cache: 'BYPASS', body: fetch().body.toString() };

  const found = cache.find(plan.lookup);
  if (found.kind === 'fresh') {
    return { cache: 'HIT', body: found.response.body.toString(), age: found.response.ageSeconds };
  }
  const now = Date.now();
  const response = fetch();
  cache.store(plan.lookup, response, { requestTime: now, responseTime: now });

  return { cache: 'MISS', body: response.body.toString() };
}

const LIMITS = { maxEntries: 100, maxBytes: 1024 * 1024, maxEntryBytes: 64 * 1024 };
const keyring = new CacheKeyring(randomBytes(32));

let calls: CacheRequest[];
beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-12-02T10:00:00Z') });
  calls = [];
});
afterEach(() => {
  vi.useRealTimers();
});

/** Returns an upstream whose body names the bearer token's user. */
function me(
  headers: Record<string, string | string[]> = { 'cache-control': 'max-age=60' },
): Upstream {
  return (request) => ({
    headers,
    body: `user ${request.headers.get('authorization') ?? 'anonymous'}`,
  });
}

describe('ResponseCache basics', () => {
  it('stores a miss and serves the hit with its age', () => {
    const cache = new ResponseCache(LIMITS);
    const upstream: Upstream = () => ({ body: 'items' });

    expect(serve(cache, cacheRequest('/items'), upstream, calls).cache).toBe('MISS');
    vi.advanceTimersByTime(42_500);
    const hit = serve(cache, cacheRequest('/items'), upstream, calls);

    expect(hit).toEqual({ cache: 'HIT', body: 'items', age: 42 });
    expect(calls).toHaveLength(1);
  });

  it('keys on the full query string', () => {
    const cache = new ResponseCache(LIMITS);
    const upstream: Upstream = (request) => ({ body: request.pathAndQuery });
    serve(cache, cacheRequest('/items?page=1'), upstream, calls);

    expect(serve(cache, cacheRequest('/items?page=2'), upstream, calls)).toEqual({
      cache: 'MISS',
      body: '/items?page=2',
    });
    expect(serve(cache, cacheRequest('/items?page=1'), upstream, calls).body).toBe('/items?page=1');
  });

  it('adds the upstream Age to the age on hits', () => {
    const cache = new ResponseCache(LIMITS);
    serve(cache, cacheRequest('/aged'), () => ({ headers: { age: '100' }, body: 'x' }), calls);
    vi.advanceTimersByTime(5_000);

    expect(serve(cache, cacheRequest('/aged'), () => ({ body: 'y' }), calls).age).toBe(105);
  });

  it('expires entries after the ttl', () => {
    const cache = new ResponseCache(LIMITS);
    const upstream: Upstream = () => ({ body: 'v' });
    serve(cache, cacheRequest('/ttl'), upstream, calls);
    vi.advanceTimersByTime(5 * MINUTE - 1);
    expect(serve(cache, cacheRequest('/ttl'), upstream, calls).cache).toBe('HIT');
    vi.advanceTimersByTime(1);

    expect(serve(cache, cacheRequest('/ttl'), upstream, calls).cache).toBe('MISS');
    expect(cache.entries).toBe(1);
  });

  it('caps the ttl by max-age', () => {
    const cache = new ResponseCache(LIMITS);
    const upstream: Upstream = () => ({ headers: { 'cache-control': 'max-age=10' }, body: 'v' });
    serve(cache, cacheRequest('/short'), upstream, calls);
    vi.advanceTimersByTime(10_000);

    expect(serve(cache, cacheRequest('/short'), upstream, calls).cache).toBe('MISS');
  });

  it('serves HEAD from a stored GET', () => {
    const cache = new ResponseCache(LIMITS);
    serve(cache, cacheRequest('/doc'), () => ({ body: 'document' }), calls);
    const head = serve(
      cache,
      cacheRequest('/doc', {}, { method: 'HEAD' }),
      () => ({ body: '' }),
      calls,
    );

    expect(head.cache).toBe('HIT');
    expect(calls).toHaveLength(1);
  });

  it('does not store the response to HEAD', () => {
    const cache = new ResponseCache(LIMITS);
    serve(cache, cacheRequest('/doc', {}, { method: 'HEAD' }), () => ({ body: '' }), calls);

    expect(cache.entries).toBe(0);
  });

  it('revalidates on request no-cache and refreshes the entry', () => {
    const cache = new ResponseCache(LIMITS);
    let version = 1;
    const upstream: Upstream = () => ({ body: `v${version}` });
    serve(cache, cacheRequest('/doc'), upstream, calls);
    version = 2;

    expect(
      serve(cache, cacheRequest('/doc', { 'Cache-Control': 'no-cache' }), upstream, calls),
    ).toEqual({
      cache: 'MISS',
      body: 'v2',
    });
    expect(serve(cache, cacheRequest('/doc'), upstream, calls)).toEqual({
      cache: 'HIT',
      body: 'v2',
      age: 0,
    });
  });
});

describe('Vary variants', () => {
  const byLanguage: Upstream = (request) => ({
    headers: { vary: 'Accept-Language' },
    body: `lang ${request.headers.get('accept-language') ?? 'none'}`,
  });

  it.each([
    ['de', 'en'],
    ['en', 'de'],
  ])('serves each language its own variant, %s first', (first, second) => {
    const cache = new ResponseCache(LIMITS);
    const ask = (language: string) =>
      serve(cache, cacheRequest('/greeting', { 'Accept-Language': language }), byLanguage, calls);

    expect(ask(first)).toEqual({ cache: 'MISS', body: `lang ${first}` });
    expect(ask(second)).toEqual({ cache: 'MISS', body: `lang ${second}` });
    expect(ask(first)).toEqual({ cache: 'HIT', body: `lang ${first}`, age: 0 });
    expect(ask(second)).toEqual({ cache: 'HIT', body: `lang ${second}`, age: 0 });
    expect(calls).toHaveLength(2);
  });

  it('tells an absent header from an empty one', () => {
    const cache = new ResponseCache(LIMITS);
    serve(cache, cacheRequest('/greeting'), byLanguage, calls);

    expect(
      serve(cache, cacheRequest('/greeting', { 'Accept-Language': '' }), byLanguage, calls).cache,
    ).toBe('MISS');
  });

  it('matches Vary names in any case and order', () => {
    const cache = new ResponseCache(LIMITS);
    const upstream: Upstream = () => ({ headers: { vary: 'X-B, x-a' }, body: 'ab' });
    serve(cache, cacheRequest('/two', { 'X-A': '1', 'x-b': '2' }), upstream, calls);

    expect(
      serve(cache, cacheRequest('/two', { 'x-b': '2', 'x-a': '1' }), upstream, calls).cache,
    ).toBe('HIT');
    expect(
      serve(cache, cacheRequest('/two', { 'x-b': '2', 'x-a': '9' }), upstream, calls).cache,
    ).toBe('MISS');
  });

  it('never stores Vary: *', () => {
    const cache = new ResponseCache(LIMITS);
    const upstream: Upstream = () => ({ headers: { vary: '*' }, body: 'anything' });
    serve(cache, cacheRequest('/star'), upstream, calls);

    expect(serve(cache, cacheRequest('/star'), upstream, calls).cache).toBe('MISS');
    expect(cache.entries).toBe(0);
  });
});

describe('private data', () => {
  const alice = { Authorization: 'Bearer alice' };
  const bob = { Authorization: 'Bearer bob' };

  it('bypasses credentialed requests in bypass mode', () => {
    const cache = new ResponseCache(LIMITS, { keyring });
    const first = serve(cache, cacheRequest('/me', alice), me(), calls);
    const second = serve(cache, cacheRequest('/me', bob), me(), calls);

    expect(first).toEqual({ cache: 'BYPASS', body: 'user Bearer alice' });
    expect(second).toEqual({ cache: 'BYPASS', body: 'user Bearer bob' });
    expect(calls).toHaveLength(2);
    expect(cache.entries).toBe(0);
  });

  it('bypasses in encrypt mode without a keyring', () => {
    const cache = new ResponseCache(LIMITS);
    const policy = hostPolicy({ private: 'encrypt' });
    serve(cache, cacheRequest('/me', alice, { policy }), me(), calls);

    expect(serve(cache, cacheRequest('/me', bob, { policy }), me(), calls).cache).toBe('BYPASS');
    expect(cache.entries).toBe(0);
  });

  it('gives each user their own entry in encrypt mode', () => {
    const cache = new ResponseCache(LIMITS, { keyring });
    const policy = hostPolicy({ private: 'encrypt' });
    const ask = (headers: Record<string, string>) =>
      serve(cache, cacheRequest('/me', headers, { policy }), me(), calls);

    expect(ask(alice)).toEqual({ cache: 'MISS', body: 'user Bearer alice' });
    expect(ask(bob)).toEqual({ cache: 'MISS', body: 'user Bearer bob' });
    expect(ask(alice)).toEqual({ cache: 'HIT', body: 'user Bearer alice', age: 0 });
    expect(ask(bob)).toEqual({ cache: 'HIT', body: 'user Bearer bob', age: 0 });
    expect(ask({})).toEqual({ cache: 'MISS', body: 'user anonymous' });
    expect(calls).toHaveLength(3);
  });

  it('keys cookies as credentials too', () => {
    const cache = new ResponseCache(LIMITS, { keyring });
    const policy = hostPolicy({ private: 'encrypt' });
    const upstream: Upstream = (request) => ({ body: `cookie ${request.headers.get('cookie')}` });
    serve(cache, cacheRequest('/me', { Cookie: 'sid=a' }, { policy }), upstream, calls);

    expect(
      serve(cache, cacheRequest('/me', { Cookie: 'sid=b' }, { policy }), upstream, calls),
    ).toEqual({
      cache: 'MISS',
      body: 'cookie sid=b',
    });
  });

  it('stores Cache-Control: private only in encrypt mode', () => {
    const privateResponse = me({ 'cache-control': 'private, max-age=60' });
    const shared = new ResponseCache(LIMITS, { keyring });
    serve(shared, cacheRequest('/me'), privateResponse, calls);
    expect(shared.entries).toBe(0);

    const encrypted = new ResponseCache(LIMITS, { keyring });
    const policy = hostPolicy({ private: 'encrypt' });
    serve(encrypted, cacheRequest('/me', alice, { policy }), privateResponse, calls);
    expect(serve(encrypted, cacheRequest('/me', bob, { policy }), privateResponse, calls)).toEqual({
      cache: 'MISS',
      body: 'user Bearer bob',
    });
    expect(encrypted.entries).toBe(2);
  });

  it.each([
    ['Set-Cookie', { 'set-cookie': 'sid=new', 'cache-control': 'max-age=60' }],
    ['no-store', { 'cache-control': 'no-store' }],
  ])('never stores a %s response, in either mode', (_name, headers) => {
    for (const mode of ['bypass', 'encrypt'] as const) {
      const cache = new ResponseCache(LIMITS, { keyring });
      const policy = hostPolicy({ private: mode });
      serve(cache, cacheRequest('/me', alice, { policy }), me(headers), calls);
      serve(cache, cacheRequest('/me', {}, { policy }), me(headers), calls);

      expect(cache.entries).toBe(0);
    }
  });

  it('keeps private payloads encrypted in the store', () => {
    const cache = new ResponseCache(LIMITS, { keyring });
    const policy = hostPolicy({ private: 'encrypt' });
    serve(cache, cacheRequest('/me', alice, { policy }), me({ 'x-user': 'alice' }), calls);
    const plan = cache.plan(cacheRequest('/me', alice, { policy }));
    if (plan.kind !== 'lookup') throw new Error('expected a lookup');
    const [entry] = cache.variantsOf(plan.lookup);

    expect(entry?.payload.kind).toBe('sealed');
    const sealed = entry?.payload.kind === 'sealed' ? entry.payload.sealed.toString('latin1') : '';
    expect(sealed).not.toContain('alice');
    expect(plan.lookup.primaryKey).not.toContain('alice');
    expect(entry?.key).not.toContain('alice');
  });

  it('treats a payload that fails to decrypt as a miss and drops it', () => {
    const cache = new ResponseCache(LIMITS, { keyring });
    const policy = hostPolicy({ private: 'encrypt' });
    serve(cache, cacheRequest('/me', alice, { policy }), me(), calls);
    const plan = cache.plan(cacheRequest('/me', alice, { policy }));
    if (plan.kind !== 'lookup') throw new Error('expected a lookup');
    const [entry] = cache.variantsOf(plan.lookup);
    if (entry?.payload.kind !== 'sealed') throw new Error('expected a sealed entry');
    const last = entry.payload.sealed.length - 1;
    entry.payload.sealed[last] = (entry.payload.sealed[last] as number) ^ 0xff;

    expect(cache.find(plan.lookup)).toEqual({ kind: 'miss', stale: undefined });
    expect(cache.entries).toBe(0);
  });

  it('drops private entries when the secret changes', () => {
    const cache = new ResponseCache(LIMITS, { keyring });
    const policy = hostPolicy({ private: 'encrypt' });
    serve(cache, cacheRequest('/me', alice, { policy }), me(), calls);
    serve(cache, cacheRequest('/public', {}, { policy }), me(), calls);
    cache.reconfigure(snapshot(policy), new CacheKeyring(randomBytes(32)));

    expect(cache.entries).toBe(1);
    expect(serve(cache, cacheRequest('/me', alice, { policy }), me(), calls).cache).toBe('MISS');
  });
});

describe('stale-if-error', () => {
  it('offers an expired entry inside the window as stale', () => {
    const cache = new ResponseCache(LIMITS);
    const policy = hostPolicy({ staleIfErrorMs: 10 * MINUTE });
    serve(cache, cacheRequest('/s', {}, { policy }), () => ({ body: 'old' }), calls);
    vi.advanceTimersByTime(5 * MINUTE + 30_000);
    const plan = cache.plan(cacheRequest('/s', {}, { policy }));
    if (plan.kind !== 'lookup') throw new Error('expected a lookup');
    const found = cache.find(plan.lookup);

    expect(found.kind).toBe('miss');
    const stale = found.kind === 'miss' ? found.stale?.serve() : undefined;
    expect(stale?.body.toString()).toBe('old');
    expect(stale?.ageSeconds).toBe(330);
  });

  it('drops the entry past ttl plus staleIfError', () => {
    const cache = new ResponseCache(LIMITS);
    const policy = hostPolicy({ staleIfErrorMs: 10 * MINUTE });
    serve(cache, cacheRequest('/s', {}, { policy }), () => ({ body: 'old' }), calls);
    vi.advanceTimersByTime(15 * MINUTE);
    const plan = cache.plan(cacheRequest('/s', {}, { policy }));
    if (plan.kind !== 'lookup') throw new Error('expected a lookup');

    expect(cache.find(plan.lookup)).toEqual({ kind: 'miss', stale: undefined });
    expect(cache.entries).toBe(0);
  });

  it('does not serve a stale entry invalidated meanwhile', () => {
    const cache = new ResponseCache(LIMITS);
    const policy = hostPolicy({ staleIfErrorMs: 10 * MINUTE });
    const request = cacheRequest('/s', {}, { policy });
    serve(cache, request, () => ({ body: 'old' }), calls);
    vi.advanceTimersByTime(6 * MINUTE);
    const plan = cache.plan(request);
    if (plan.kind !== 'lookup') throw new Error('expected a lookup');
    const found = cache.find(plan.lookup);
    cache.invalidate(
      'api.test',
      { origin: 'https://api.test', host: 'api.test', pathAndQuery: '/s', path: '/s' },
      {},
    );

    expect(found.kind).toBe('miss');
    expect(found.kind === 'miss' ? found.stale?.serve() : 'fresh').toBeUndefined();
  });
});

describe('invalidation', () => {
  const target = (pathAndQuery: string) => ({
    origin: 'https://api.test',
    host: 'api.test',
    pathAndQuery,
    path: pathAndQuery.split('?')[0] as string,
  });

  it('removes every query and variant of the written path', () => {
    const counters = new CacheCounters();
    const cache = new ResponseCache(LIMITS, { telemetry: counters });
    const upstream: Upstream = () => ({ headers: { vary: 'accept' }, body: 'x' });
    serve(cache, cacheRequest('/items?page=1'), upstream, calls);
    serve(cache, cacheRequest('/items?page=2', { accept: 'a' }), upstream, calls);
    serve(cache, cacheRequest('/items?page=2', { accept: 'b' }), upstream, calls);
    serve(cache, cacheRequest('/items/1'), upstream, calls);

    expect(cache.invalidate('api.test', target('/items'), {})).toBe(3);
    expect(cache.entries).toBe(1);
    expect(counters.invalidations).toBe(3);
  });

  it('removes the paths in Location and Content-Location', () => {
    const cache = new ResponseCache(LIMITS);
    const upstream: Upstream = () => ({ body: 'x' });
    for (const path of ['/items', '/items/7', '/items/7/summary', '/other']) {
      serve(cache, cacheRequest(path), upstream, calls);
    }
    const removed = cache.invalidate('api.test', target('/items'), {
      location: '/items/7',
      'content-location': 'https://api.test/items/7/summary?x=1',
    });

    expect(removed).toBe(3);
    expect(serve(cache, cacheRequest('/other'), upstream, calls).cache).toBe('HIT');
  });

  it('ignores Location URLs of other hosts', () => {
    const cache = new ResponseCache(LIMITS);
    serve(cache, cacheRequest('/x'), () => ({ body: 'x' }), calls);

    expect(
      cache.invalidate('api.test', target('/items'), { location: 'https://evil.test/x' }),
    ).toBe(0);
    expect(cache.entries).toBe(1);
  });

  it('stops a fetch that started before a write from storing', () => {
    const cache = new ResponseCache(LIMITS);
    const plan = cache.plan(cacheRequest('/items'));
    if (plan.kind !== 'lookup') throw new Error('expected a lookup');
    cache.invalidate('api.test', target('/items'), {});
    const now = Date.now();
    const response = { status: 200, headers: {}, body: Buffer.from('before the write') };

    expect(cache.store(plan.lookup, response, { requestTime: now, responseTime: now })).toBe(false);
  });

  it('purges by host and prefix and counts it', () => {
    const counters = new CacheCounters();
    const cache = new ResponseCache(LIMITS, { telemetry: counters });
    for (const path of ['/v1/a', '/v1/b', '/v2/a'])
      serve(cache, cacheRequest(path), () => ({ body: 'x' }), calls);

    expect(cache.purge({ host: 'api.test', prefix: '/v1' })).toBe(2);
    expect(cache.purge({ host: 'other.test' })).toBe(0);
    expect(counters.invalidations).toBe(2);
    expect(cache.stats(counters)).toMatchObject({ entries: 1, invalidations: 2 });
  });
});

function snapshot(...policies: ReturnType<typeof hostPolicy>[]): Snapshot {
  return {
    cache: LIMITS,
    hosts: new Map(policies.map((policy) => [policy.key, policy])),
  } as unknown as Snapshot;
}

describe('reconfigure', () => {
  it('keeps entries of unchanged hosts and drops changed ones', () => {
    const cache = new ResponseCache(LIMITS);
    const a = hostPolicy({}, 'a.test', 'hash-a');
    const b = hostPolicy({}, 'b.test', 'hash-b');
    serve(
      cache,
      cacheRequest('/x', {}, { policy: a, host: 'a.test' }),
      () => ({ body: 'a' }),
      calls,
    );
    serve(
      cache,
      cacheRequest('/x', {}, { policy: b, host: 'b.test' }),
      () => ({ body: 'b' }),
      calls,
    );
    cache.reconfigure(snapshot(a, hostPolicy({ ttlMs: MINUTE }, 'b.test', 'hash-b2')), undefined);

    expect(cache.entries).toBe(1);
    expect(
      serve(
        cache,
        cacheRequest('/x', {}, { policy: a, host: 'a.test' }),
        () => ({ body: '' }),
        calls,
      ).cache,
    ).toBe('HIT');
  });

  it('drops entries of hosts that left the config', () => {
    const cache = new ResponseCache(LIMITS);
    serve(cache, cacheRequest('/x'), () => ({ body: 'a' }), calls);
    cache.reconfigure(snapshot(), undefined);

    expect(cache.entries).toBe(0);
  });
});

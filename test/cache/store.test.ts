import { describe, expect, it } from 'vitest';
import type { CacheEntry } from '../../agent/cache/entry.ts';
import { pathKey } from '../../agent/cache/key.ts';
import { CacheStore, MAX_VARIANTS, type StoreLimits } from '../../agent/cache/store.ts';

interface EntrySpec {
  path?: string;
  query?: string;
  variant?: string;
  hostKey?: string;
  host?: string;
  bytes?: number;
  storedAt?: number;
}

/** Builds an entry with `bytes` set directly: the store trusts the accounted size it is given. */
function entry(spec: EntrySpec = {}): CacheEntry {
  const path = spec.path ?? '/a';
  const hostKey = spec.hostKey ?? 'api.test';
  const primaryKey = `${hostKey} ${path}?${spec.query ?? ''}`;

  return {
    key: `${primaryKey}#${spec.variant ?? ''}`,
    primaryKey,
    pathKey: pathKey(hostKey, 'https://api.test', path),
    hostKey,
    policyHash: 'h1',
    host: spec.host ?? hostKey,
    path,
    varyNames: [],
    varyDigest: '[]',
    status: 200,
    payload: { kind: 'clear', headers: {}, body: Buffer.alloc(0) },
    storedAt: spec.storedAt ?? 0,
    initialAgeMs: 0,
    lifetimeMs: 60_000,
    staleIfErrorMs: 0,
    bytes: spec.bytes ?? 100,
  };
}

function store(limits: Partial<StoreLimits> = {}) {
  const evictions: number[] = [];
  const created = new CacheStore(
    { maxEntries: 10, maxBytes: 10_000, maxEntryBytes: 1_000, ...limits },
    { onEvict: (count) => evictions.push(count) },
  );

  return { store: created, evictions };
}

function keysOf(s: CacheStore, specs: EntrySpec[]): boolean[] {
  return specs.map((spec) => s.peek(entry(spec).key) !== undefined);
}

describe('CacheStore', () => {
  it('stores and returns entries', () => {
    const { store: s } = store();
    const stored = entry();

    expect(s.set(stored)).toBe(true);
    expect(s.get(stored.key)).toBe(stored);
    expect(s.size).toBe(1);
    expect(s.bytes).toBe(100);
  });

  it('replaces an entry of the same key without counting an eviction', () => {
    const { store: s, evictions } = store();
    s.set(entry({ bytes: 100 }));
    s.set(entry({ bytes: 300 }));

    expect(s.size).toBe(1);
    expect(s.bytes).toBe(300);
    expect(evictions).toEqual([]);
  });

  it('evicts the least recently used entry at maxEntries', () => {
    const { store: s, evictions } = store({ maxEntries: 3 });
    s.set(entry({ path: '/1' }));
    s.set(entry({ path: '/2' }));
    s.set(entry({ path: '/3' }));
    s.get(entry({ path: '/1' }).key);
    s.set(entry({ path: '/4' }));

    expect(keysOf(s, [{ path: '/1' }, { path: '/2' }, { path: '/3' }, { path: '/4' }])).toEqual([
      true,
      false,
      true,
      true,
    ]);
    expect(evictions).toEqual([1]);
  });

  it('evicts least recently used entries until maxBytes holds', () => {
    const { store: s, evictions } = store({ maxBytes: 1_000 });
    for (const path of ['/1', '/2', '/3', '/4']) s.set(entry({ path, bytes: 250 }));
    s.get(entry({ path: '/1' }).key);
    s.set(entry({ path: '/big', bytes: 600 }));

    expect(keysOf(s, [{ path: '/1' }, { path: '/2' }, { path: '/3' }, { path: '/4' }])).toEqual([
      true,
      false,
      false,
      false,
    ]);
    expect(s.bytes).toBe(850);
    expect(evictions).toEqual([3]);
  });

  it('refuses an entry over maxEntryBytes or maxBytes', () => {
    const { store: s } = store({ maxBytes: 2_000, maxEntryBytes: 1_000 });
    s.set(entry({ path: '/kept' }));

    expect(s.set(entry({ path: '/huge', bytes: 1_001 }))).toBe(false);
    expect(s.size).toBe(1);

    const { store: small } = store({ maxBytes: 500, maxEntryBytes: 1_000 });
    expect(small.set(entry({ bytes: 501 }))).toBe(false);
  });

  it('removes every entry of a path', () => {
    const { store: s } = store();
    s.set(entry({ path: '/a', query: 'x=1' }));
    s.set(entry({ path: '/a', query: 'x=2', variant: 'de' }));
    s.set(entry({ path: '/a', query: 'x=2', variant: 'en' }));
    s.set(entry({ path: '/a/b' }));

    expect(s.deletePath(pathKey('api.test', 'https://api.test', '/a'))).toBe(3);
    expect(s.size).toBe(1);
    expect(s.peek(entry({ path: '/a/b' }).key)).toBeDefined();
  });

  it('purges by host key, concrete host and prefix', () => {
    const { store: s } = store();
    s.set(entry({ hostKey: '*.wild.test', host: 'a.wild.test', path: '/v1/x' }));
    s.set(entry({ hostKey: '*.wild.test', host: 'b.wild.test', path: '/v1/y' }));
    s.set(entry({ hostKey: 'api.test', path: '/v1/x' }));
    s.set(entry({ hostKey: 'api.test', path: '/v2/x' }));

    expect(s.purge({ host: 'a.wild.test' })).toBe(1);
    expect(s.purge({ host: 'api.test', prefix: '/v2' })).toBe(1);
    expect(s.purge({ prefix: '/v1' })).toBe(2);
    expect(s.size).toBe(0);
  });

  it('purges a wildcard key with every concrete host under it', () => {
    const { store: s } = store();
    s.set(entry({ hostKey: '*.wild.test', host: 'a.wild.test' }));
    s.set(entry({ hostKey: '*.wild.test', host: 'b.wild.test', path: '/b' }));

    expect(s.purge({ host: '*.wild.test' })).toBe(2);
  });

  it('clears everything for an empty purge', () => {
    const { store: s } = store();
    s.set(entry({ path: '/1' }));
    s.set(entry({ path: '/2' }));

    expect(s.purge({})).toBe(2);
    expect(s.bytes).toBe(0);
  });

  it('lists the variants of a primary key', () => {
    const { store: s } = store();
    s.set(entry({ variant: 'de' }));
    s.set(entry({ variant: 'en' }));
    s.set(entry({ path: '/other' }));

    expect(s.variants(entry().primaryKey).map((e) => e.key)).toEqual([
      entry({ variant: 'de' }).key,
      entry({ variant: 'en' }).key,
    ]);
  });

  it('keeps at most MAX_VARIANTS variants per primary key', () => {
    const { store: s, evictions } = store({ maxEntries: 100, maxBytes: 100_000 });
    for (let i = 0; i <= MAX_VARIANTS; i++) s.set(entry({ variant: `v${i}`, storedAt: i }));

    expect(s.variants(entry().primaryKey)).toHaveLength(MAX_VARIANTS);
    expect(s.peek(entry({ variant: 'v0' }).key)).toBeUndefined();
    expect(evictions).toEqual([1]);
  });

  it('resizes, keeping the most recently used entries', () => {
    const { store: s, evictions } = store();
    for (const path of ['/1', '/2', '/3', '/4']) s.set(entry({ path }));
    s.get(entry({ path: '/1' }).key);
    s.resize({ maxEntries: 2, maxBytes: 10_000, maxEntryBytes: 1_000 });

    expect(keysOf(s, [{ path: '/1' }, { path: '/2' }, { path: '/3' }, { path: '/4' }])).toEqual([
      true,
      false,
      false,
      true,
    ]);
    expect(evictions).toEqual([2]);
    s.set(entry({ path: '/5' }));
    expect(keysOf(s, [{ path: '/1' }, { path: '/4' }, { path: '/5' }])).toEqual([
      true,
      false,
      true,
    ]);
  });

  it('deletes by predicate', () => {
    const { store: s } = store();
    s.set(entry({ path: '/1', hostKey: 'a.test' }));
    s.set(entry({ path: '/2', hostKey: 'b.test' }));

    expect(s.deleteWhere((e) => e.hostKey === 'a.test')).toBe(1);
    expect(s.size).toBe(1);
  });

  it('rejects invalid limits', () => {
    expect(() => new CacheStore({ maxEntries: 0, maxBytes: 1, maxEntryBytes: 1 })).toThrow(
      'cache.maxEntries must be a whole number of at least 1, got 0',
    );
  });

  it('keeps limits and indexes consistent under churn', () => {
    const { store: s } = store({ maxEntries: 50, maxBytes: 20_000, maxEntryBytes: 2_000 });
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;

      return seed % n;
    };
    let maxSize = 0;
    let maxBytes = 0;
    for (let i = 0; i < 5_000; i++) {
      const path = `/${random(40)}`;
      const action = random(10);
      if (action < 7) s.set(entry({ path, query: `${random(5)}`, bytes: 50 + random(1_950) }));
      else if (action < 9) s.get(entry({ path }).key);
      else s.deletePath(pathKey('api.test', 'https://api.test', path));
      maxSize = Math.max(maxSize, s.size);
      maxBytes = Math.max(maxBytes, s.bytes);
    }

    expect(maxSize).toBeLessThanOrEqual(50);
    expect(maxBytes).toBeLessThanOrEqual(20_000);
    const size = s.size;
    let removedByPath = 0;
    for (let path = 0; path < 40; path++) {
      removedByPath += s.deletePath(pathKey('api.test', 'https://api.test', `/${path}`));
    }
    expect(removedByPath).toBe(size);
    expect(s.size).toBe(0);
    expect(s.bytes).toBe(0);
  });
});

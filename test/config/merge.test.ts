import { describe, expect, it } from 'vitest';

import { snapshotOf } from './helpers.ts';

const FILE = `
defaults:
  retry:
    retries: 5
    backoff: { base: 2s }
  timeouts: { connect: 1s }
hosts:
  api.example.com:
    upstream: https://api.example.com
    timeouts: { read: 10s }
    retry:
      retries: 1
      retryOn: [timeout, 429]
    cache:
      enabled: true
      rules:
        - { path: /v1, ttl: 1m }
        - { path: /v1/countries/list, ttl: 1h }
        - { path: /v1/countries, ttl: 30m }
  other.example.com:
    upstream: https://other.example.com
`;

describe('per-host merge', () => {
  const snapshot = snapshotOf(FILE);
  const api = snapshot.hosts.get('api.example.com')!;
  const other = snapshot.hosts.get('other.example.com')!;

  it('overrides only the fields a host sets', () => {
    expect(api.retry.retries).toBe(1);
    expect(api.retry.backoff).toEqual({ baseMs: 2000, maxMs: 30_000, jitter: 'full' });
    expect(api.timeouts).toEqual({ connectMs: 1000, readMs: 10_000, totalMs: 60_000 });
  });

  it('inherits the file defaults over the built-in ones', () => {
    expect(other.retry.retries).toBe(5);
    expect(other.retry.backoff.baseMs).toBe(2000);
    expect(snapshot.defaults.retry.retries).toBe(5);
  });

  it('replaces lists whole', () => {
    expect(api.retry.retryOn).toEqual({
      any5xx: false,
      gatewayError: false,
      connectFailure: false,
      reset: false,
      timeout: true,
      statuses: new Set([429]),
    });
    expect(other.retry.retryOn.any5xx).toBe(true);
  });

  it('sorts cache rules longest path first', () => {
    expect(api.cache.rules.map((rule) => rule.path)).toEqual([
      '/v1/countries/list',
      '/v1/countries',
      '/v1',
    ]);
    expect(api.cache.rules[0]?.ttlMs).toBe(3_600_000);
  });

  it('keeps hosts in file order', () => {
    expect([...snapshot.hosts.keys()]).toEqual(['api.example.com', 'other.example.com']);
  });
});

describe('host policy hash', () => {
  const base = snapshotOf(FILE);

  it('is the same for the same policy', () => {
    expect(snapshotOf(FILE).hosts.get('api.example.com')?.hash).toBe(
      base.hosts.get('api.example.com')?.hash,
    );
  });

  it('ignores key order and other hosts', () => {
    const reordered = FILE.replace(
      'timeouts: { read: 10s }\n    retry:\n      retries: 1\n      retryOn: [timeout, 429]',
      'retry:\n      retryOn: [429, timeout]\n      retries: 1\n    timeouts: { read: 10s }',
    ).replace(
      'upstream: https://other.example.com',
      'upstream: https://other.example.com\n    retry: { retries: 0 }',
    );
    const snapshot = snapshotOf(reordered);

    expect(snapshot.hash).not.toBe(base.hash);
    expect(snapshot.hosts.get('api.example.com')?.hash).toBe(
      base.hosts.get('api.example.com')?.hash,
    );
    expect(snapshot.hosts.get('other.example.com')?.hash).not.toBe(
      base.hosts.get('other.example.com')?.hash,
    );
  });

  it('changes when an inherited default changes', () => {
    const snapshot = snapshotOf(FILE.replace('connect: 1s', 'connect: 2s'));

    expect(snapshot.hosts.get('api.example.com')?.hash).not.toBe(
      base.hosts.get('api.example.com')?.hash,
    );
  });
});

describe('snapshot immutability', () => {
  const snapshot = snapshotOf(FILE);
  const api = snapshot.hosts.get('api.example.com')!;

  it('freezes objects deeply', () => {
    expect(Object.isFrozen(snapshot)).toBe(true);
    expect(Object.isFrozen(api.retry.backoff)).toBe(true);
    expect(Object.isFrozen(api.cache.rules)).toBe(true);
    expect(Object.isFrozen(snapshot.effective)).toBe(true);
    expect(() => {
      (api.retry as { retries: number }).retries = 9;
    }).toThrow(TypeError);
  });

  it('locks maps and sets', () => {
    expect(() => (snapshot.hosts as Map<string, unknown>).set('x', 1)).toThrow(
      'frozen config snapshot',
    );
    expect(() => (snapshot.hosts as Map<string, unknown>).clear()).toThrow(TypeError);
    expect(() => (api.retry.methods as Set<string>).add('POST')).toThrow(TypeError);
    expect(() => (api.retry.retryOn.statuses as Set<number>).delete(429)).toThrow(TypeError);
    expect(snapshot.hosts.size).toBe(2);
    expect(api.retry.retryOn.statuses.has(429)).toBe(true);
  });
});

import { createHash } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { BUILTIN_POLICY } from '../../agent/config/defaults.ts';
import { policyOverridesSchema } from '../../agent/config/schema.ts';
import { ONE_HOST, snapshotOf } from './helpers.ts';

describe('defaults', () => {
  const snapshot = snapshotOf(ONE_HOST);
  const host = snapshot.hosts.get('api.example.com')!;

  it('fills every top-level section', () => {
    expect(snapshot.listeners).toEqual({
      egress: { host: '127.0.0.1', port: 7700 },
      control: { host: '127.0.0.1', port: 7701 },
      metrics: { host: '0.0.0.0', port: 7702 },
    });
    expect(snapshot.log).toEqual({ level: 'info', redactHeaders: [] });
    expect(snapshot.lifecycle).toEqual({ drainIdleMs: 2000, drainTimeoutMs: 20_000 });
    expect(snapshot.unknownHosts).toBe('reject');
    expect(snapshot.limits).toEqual({ maxInFlight: 10_000 });
    expect(snapshot.cache).toEqual({
      maxEntries: 10_000,
      maxBytes: 64 * 1024 * 1024,
      maxEntryBytes: 1024 * 1024,
    });
    expect(snapshot.webhooks).toBeUndefined();
  });

  it('gives a host the documented timeouts, retry and breaker', () => {
    expect(host.timeouts).toEqual({ connectMs: 5000, readMs: 30_000, totalMs: 60_000 });
    expect(host.retry.retries).toBe(3);
    expect(host.retry.backoff).toEqual({ baseMs: 1000, maxMs: 30_000, jitter: 'full' });
    expect(host.retry.retryOn).toEqual({
      any5xx: true,
      gatewayError: false,
      connectFailure: true,
      reset: true,
      timeout: false,
      statuses: new Set(),
    });
    expect([...host.retry.methods]).toEqual(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
    expect(host.retry.budget).toEqual({ ratio: 0.2, minPerSecond: 10, windowMs: 10_000 });
    expect(host.breaker).toEqual({
      failures: 5,
      windowMs: 60_000,
      openForMs: 30_000,
      halfOpenRequests: 1,
      failOn: {
        any5xx: true,
        gatewayError: false,
        connectFailure: true,
        reset: true,
        timeout: true,
        statuses: new Set(),
      },
      mode: 'enforce',
    });
  });

  it('gives a host the documented cache and limits', () => {
    expect(host.cache).toEqual({
      enabled: false,
      ttlMs: 300_000,
      rules: [],
      staleIfErrorMs: 0,
      private: 'bypass',
    });
    expect(host.limits).toEqual({ maxInFlight: 1024, maxRequestBytes: 10 * 1024 * 1024 });
  });

  it('keys the defaults policy _unknown', () => {
    expect(snapshot.defaults.key).toBe('_unknown');
    expect(snapshot.defaults.upstream).toBe('');
    expect(snapshot.defaults.timeouts).toEqual(host.timeouts);
    expect(snapshot.defaults.breaker).toEqual(host.breaker);
  });

  it('built-in policy passes its own schema', () => {
    expect(policyOverridesSchema.safeParse(BUILTIN_POLICY).success).toBe(true);
  });

  it('accepts an empty mapping', () => {
    const empty = snapshotOf('{}');

    expect(empty.hosts.size).toBe(0);
    expect(empty.defaults.retry.retries).toBe(3);
  });

  it('hashes the file text', () => {
    const expected = createHash('sha256').update(ONE_HOST).digest('hex');

    expect(snapshot.hash).toBe(expected);
    expect(snapshot.source).toBe('/etc/fender/fender.yaml');
  });

  it('fills effective with defaults as written', () => {
    const effective = snapshot.effective as {
      defaults: { timeouts: unknown };
      hosts: Record<string, { upstream: string; retry: { backoff: unknown } }>;
      listeners: { webhooks: unknown };
    };

    expect(effective.defaults.timeouts).toEqual({ connect: '5s', read: '30s', total: '60s' });
    expect(effective.hosts['api.example.com']?.upstream).toBe('https://api.example.com');
    expect(effective.hosts['api.example.com']?.retry.backoff).toEqual({
      base: '1s',
      max: '30s',
      jitter: 'full',
    });
    expect(effective.listeners.webhooks).toEqual({ host: '0.0.0.0', port: 7703 });
  });
});

import { createHash } from 'node:crypto';

import type { RawPolicy } from './defaults.ts';
import { compileMatcher } from './matchers.ts';
import type { HostPolicy } from './types.ts';
import { parseDuration as ms, parseSize as bytes } from './units.ts';

/** Key of the policy built from `defaults` alone, used for passthrough hosts. */
export const UNKNOWN_HOST_KEY = '_unknown';

/** Converts a merged, validated policy into the HostPolicy the agent reads. */
export function resolvePolicy(key: string, upstream: string, raw: RawPolicy): HostPolicy {
  const { timeouts, retry, breaker, cache, limits } = raw;
  const policy: Omit<HostPolicy, 'hash'> = {
    key,
    upstream,
    timeouts: {
      connectMs: ms(timeouts.connect),
      readMs: ms(timeouts.read),
      totalMs: ms(timeouts.total),
    },
    retry: {
      retries: retry.retries,
      backoff: {
        baseMs: ms(retry.backoff.base),
        maxMs: ms(retry.backoff.max),
        jitter: retry.backoff.jitter,
      },
      retryOn: compileMatcher(retry.retryOn),
      methods: new Set(retry.methods),
      budget: {
        ratio: retry.budget.ratio,
        minPerSecond: retry.budget.minPerSecond,
        windowMs: ms(retry.budget.window),
      },
    },
    breaker: {
      failures: breaker.failures,
      windowMs: ms(breaker.window),
      openForMs: ms(breaker.openFor),
      halfOpenRequests: breaker.halfOpenRequests,
      failOn: compileMatcher(breaker.failOn),
      mode: breaker.mode,
    },
    cache: {
      enabled: cache.enabled,
      ttlMs: ms(cache.ttl),
      rules: cache.rules
        .map((rule) => ({ path: rule.path, ttlMs: ms(rule.ttl) }))
        .sort((a, b) => b.path.length - a.path.length),
      staleIfErrorMs: ms(cache.staleIfError),
      private: cache.private,
    },
    limits: { maxInFlight: limits.maxInFlight, maxRequestBytes: bytes(limits.maxRequestBytes) },
  };

  return { ...policy, hash: sha256(canonicalJson(policy)) };
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Serialises a value with object keys sorted and sets as sorted lists, so two
 * equal policies give the same text whatever order the file used.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonical(value));
}

function canonical(value: unknown): unknown {
  if (value instanceof Set) return [...value].map(canonical).sort();
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value !== 'object' || value === null) return value;

  // Object keys are unique, so no two compare equal.
  const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1));

  return Object.fromEntries(entries.map(([key, inner]) => [key, canonical(inner)]));
}

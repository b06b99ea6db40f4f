import type { HostCachePolicy, HostPolicy, OutcomeMatcher } from '../../agent/config/types.ts';
import type { CacheRequest } from '../../agent/cache/cache.ts';
import { collectHeaders } from '../../agent/cache/key.ts';

const NO_OUTCOMES: OutcomeMatcher = {
  any5xx: false,
  gatewayError: false,
  connectFailure: false,
  reset: false,
  timeout: false,
  statuses: new Set(),
};

export const MINUTE = 60_000;

/** Builds a cache policy as the config loader resolves it: ttl 5m, no rules, no stale window, bypass. */
export function cachePolicy(overrides: Partial<HostCachePolicy> = {}): HostCachePolicy {
  return {
    enabled: true,
    ttlMs: 5 * MINUTE,
    rules: [],
    staleIfErrorMs: 0,
    private: 'bypass',
    ...overrides,
  };
}

/** Builds a whole host policy around `cache`; only the cache part matters to the cache tests. */
export function hostPolicy(
  cache: Partial<HostCachePolicy> = {},
  key = 'api.test',
  hash = 'h1',
): HostPolicy {
  return {
    key,
    upstream: 'https://api.test',
    timeouts: { connectMs: 5000, readMs: 30_000, totalMs: 60_000 },
    retry: {
      retries: 0,
      backoff: { baseMs: 1000, maxMs: 30_000, jitter: 'full' },
      retryOn: NO_OUTCOMES,
      methods: new Set(['GET']),
      budget: { ratio: 0.2, minPerSecond: 10, windowMs: 10_000 },
    },
    breaker: {
      failures: 5,
      windowMs: 60_000,
      openForMs: 30_000,
      halfOpenRequests: 1,
      failOn: NO_OUTCOMES,
      mode: 'enforce',
    },
    cache: cachePolicy(cache),
    limits: { maxInFlight: 1024, maxRequestBytes: 10 * 1024 * 1024 },
    hash,
  };
}

/** Builds a cache request for `pathAndQuery` with `headers` (names in any case). */
export function cacheRequest(
  pathAndQuery: string,
  headers: Record<string, string> = {},
  options: { method?: string; policy?: HostPolicy; host?: string } = {},
): CacheRequest {
  const query = pathAndQuery.indexOf('?');
  const raw = Object.entries(headers).flat();

  return {
    method: options.method ?? 'GET',
    policy: options.policy ?? hostPolicy(),
    host: options.host ?? 'api.test',
    origin: 'https://api.test',
    pathAndQuery,
    path: query === -1 ? pathAndQuery : pathAndQuery.slice(0, query),
    headers: collectHeaders(raw),
  };
}

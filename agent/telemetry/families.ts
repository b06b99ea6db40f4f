import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';

// The metric families Fender exports. Names, types and labels are the
// contract with dashboards and alerts (docs/operations.md): change them only
// together with those docs.

/**
 * Upper bounds of `fender_request_duration_seconds`, in seconds. The low end
 * (0.5 ms to 5 ms) resolves responses the sidecar makes itself: cache hits,
 * open-breaker rejections and its own overhead. The middle covers ordinary
 * upstream latency. 30 s and 60 s are the default read and total timeouts, so
 * requests cut by them land in the top buckets instead of only in +Inf.
 */
export const DURATION_BUCKETS_SECONDS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

export interface Families {
  readonly requests: Counter<'host' | 'method' | 'code' | 'cache'>;
  readonly duration: Histogram<'host' | 'method'>;
  readonly attempts: Counter<'host' | 'result'>;
  readonly retries: Counter<'host' | 'reason'>;
  readonly budgetExhausted: Counter<'host'>;
  readonly breakerState: Gauge<'host' | 'state'>;
  readonly breakerTransitions: Counter<'host' | 'from' | 'to'>;
  readonly cacheLookups: Counter<'host' | 'result'>;
  readonly cacheEntries: Gauge;
  readonly cacheBytes: Gauge;
  readonly cacheEvictions: Counter;
  readonly cacheInvalidations: Counter;
  readonly configReloads: Counter<'result'>;
  readonly configLastSuccess: Gauge;
  readonly configInfo: Gauge<'hash'>;
}

/** Creates every family on `registry`; scrape-time gauges read their values through `collect`. */
export function createFamilies(
  registry: Registry,
  collect: {
    breakerState: (gauge: Gauge<'host' | 'state'>) => void;
    cacheEntries: () => number;
    cacheBytes: () => number;
    configInfo: (gauge: Gauge<'hash'>) => void;
  },
): Families {
  const registers = [registry];

  return {
    requests: new Counter({
      name: 'fender_requests_total',
      help: 'Proxied requests completed, by configured host key, method, status code and cache status (none where caching does not apply).',
      labelNames: ['host', 'method', 'code', 'cache'],
      registers,
    }),
    duration: new Histogram({
      name: 'fender_request_duration_seconds',
      help: 'Time from receiving a proxied request to the end of its response, retries and backoff included.',
      labelNames: ['host', 'method'],
      buckets: DURATION_BUCKETS_SECONDS,
      registers,
    }),
    attempts: new Counter({
      name: 'fender_upstream_attempts_total',
      help: 'Upstream attempts, by result: a status class, timeout, connect_failure or reset.',
      labelNames: ['host', 'result'],
      registers,
    }),
    retries: new Counter({
      name: 'fender_retries_total',
      help: 'Retries started, by the result of the attempt that caused them.',
      labelNames: ['host', 'reason'],
      registers,
    }),
    budgetExhausted: new Counter({
      name: 'fender_retry_budget_exhausted_total',
      help: 'Retries not made because the host retry budget was used up.',
      labelNames: ['host'],
      registers,
    }),
    breakerState: new Gauge({
      name: 'fender_breaker_state',
      help: 'Circuit breakers per configured host key in each state: 1 for the current state and 0 otherwise; for a wildcard key, the number of concrete hosts in that state.',
      labelNames: ['host', 'state'],
      registers,
      collect() {
        collect.breakerState(this);
      },
    }),
    breakerTransitions: new Counter({
      name: 'fender_breaker_transitions_total',
      help: 'Circuit breaker state changes, shadow-mode breakers included.',
      labelNames: ['host', 'from', 'to'],
      registers,
    }),
    cacheLookups: new Counter({
      name: 'fender_cache_lookups_total',
      help: 'Cache lookups on hosts with caching enabled, by result.',
      labelNames: ['host', 'result'],
      registers,
    }),
    cacheEntries: new Gauge({
      name: 'fender_cache_entries',
      help: 'Entries in the shared response cache.',
      registers,
      collect() {
        this.set(collect.cacheEntries());
      },
    }),
    cacheBytes: new Gauge({
      name: 'fender_cache_bytes',
      help: 'Bytes of response bodies held in the shared response cache.',
      registers,
      collect() {
        this.set(collect.cacheBytes());
      },
    }),
    cacheEvictions: new Counter({
      name: 'fender_cache_evictions_total',
      help: 'Cache entries evicted to stay within the entry and byte limits.',
      registers,
    }),
    cacheInvalidations: new Counter({
      name: 'fender_cache_invalidations_total',
      help: 'Cache entries removed before expiry because a write changed their resource.',
      registers,
    }),
    configReloads: new Counter({
      name: 'fender_config_reloads_total',
      help: 'Config reload attempts after start, by result (success or failure).',
      labelNames: ['result'],
      registers,
    }),
    configLastSuccess: new Gauge({
      name: 'fender_config_last_reload_success_timestamp_seconds',
      help: 'Unix time of the last successful config load, the one at start included.',
      registers,
    }),
    configInfo: new Gauge({
      name: 'fender_config_info',
      help: 'The loaded config, as its sha256 hash label; the value is always 1.',
      labelNames: ['hash'],
      registers,
      collect() {
        collect.configInfo(this);
      },
    }),
  };
}

import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Counter, Gauge, Histogram } from 'prom-client';
import type { AttemptResult } from '../policy/outcome.ts';
import type {
  BreakerStateName,
  BreakerTransition,
  ConfigReloadEvent,
  RequestRecord,
  Telemetry,
} from './events.ts';
import { createFamilies } from './families.ts';
import type { Families } from './families.ts';

// Prometheus metrics for one agent, on a registry the agent owns. The
// Telemetry methods run on the request path, so each resolves its label
// child from a per-host-key cache instead of passing label objects to
// prom-client per event. Host keys come only from the config plus
// `_unknown`, so the caches and the series stay bounded.

export interface MetricsSources {
  /** Every concrete breaker with the configured key it falls under, read at scrape time. */
  readonly breakers: () => Iterable<{ readonly key: string; readonly state: BreakerStateName }>;
  /** The shared cache's size, read at scrape time; absent means no cache (both gauges 0). */
  readonly cache?: () => { readonly entries: number; readonly bytes: number };
  /** sha256 of the loaded config file, read at scrape time. */
  readonly configHash: () => string;
}

export interface Metrics {
  readonly registry: Registry;
  readonly telemetry: Telemetry;
  /**
   * Drops the series of host keys not in `keys` (`_unknown` is always kept),
   * for a reload that removed hosts.
   */
  retainHosts(keys: Iterable<string>): void;
}

const BREAKER_STATES: readonly BreakerStateName[] = ['closed', 'open', 'half_open'];

// Methods outside this set share one label value, because the method comes
// from the application and would otherwise make cardinality unbounded.
const KNOWN_METHODS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'PATCH',
  'OPTIONS',
  'CONNECT',
  'TRACE',
]);
const OTHER_METHOD = '_other';
const UNKNOWN_HOST = '_unknown';

/** The label children of one host key, created on first use. */
class HostSeries {
  readonly requests = new Map<string, Counter.Internal>();
  readonly duration = new Map<string, Histogram.Internal<'host' | 'method'>>();
  readonly attempts = new Map<string, Counter.Internal>();
  readonly retries = new Map<string, Counter.Internal>();
  readonly transitions = new Map<string, Counter.Internal>();
  readonly lookups = new Map<string, Counter.Internal>();
  budgetExhausted: Counter.Internal | undefined;
  /** Removes each series created for this host from its family. */
  readonly removers: Array<() => void> = [];
}

export function createMetrics(sources: MetricsSources): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const families = createFamilies(registry, {
    breakerState: (gauge) => collectBreakerStates(gauge, sources.breakers()),
    cacheEntries: () => sources.cache?.().entries ?? 0,
    cacheBytes: () => sources.cache?.().bytes ?? 0,
    configInfo: (gauge) => {
      gauge.reset();
      gauge.set({ hash: sources.configHash() }, 1);
    },
  });
  // Both results exist from the start, so `increase()` counts the first failure.
  families.configReloads.inc({ result: 'success' }, 0);
  families.configReloads.inc({ result: 'failure' }, 0);
  // The agent creates its metrics after the config loaded at start.
  families.configLastSuccess.set(Date.now() / 1000);

  const hosts = new Map<string, HostSeries>();
  const seriesOf = (hostKey: string): HostSeries => {
    let series = hosts.get(hostKey);
    if (series === undefined) {
      series = new HostSeries();
      hosts.set(hostKey, series);
    }

    return series;
  };

  return {
    registry,
    telemetry: createTelemetry(families, seriesOf),
    retainHosts(keys) {
      const keep = new Set(keys);
      keep.add(UNKNOWN_HOST);
      for (const [key, series] of hosts) {
        if (keep.has(key)) continue;
        series.removers.forEach((remove) => remove());
        hosts.delete(key);
      }
    },
  };
}

/**
 * Returns the child stored under `key`, creating it once with `labels`.
 * The removal closure is kept so `retainHosts` can drop the series later.
 */
function child<C, L extends string>(
  series: HostSeries,
  cache: Map<string, C>,
  key: string,
  family: {
    labels(labels: Partial<Record<L, string>>): C;
    remove(labels: Partial<Record<L, string>>): void;
  },
  labels: Partial<Record<L, string>>,
): C {
  let found = cache.get(key);
  if (found === undefined) {
    found = family.labels(labels);
    cache.set(key, found);
    series.removers.push(() => family.remove(labels));
  }

  return found;
}

function createTelemetry(families: Families, seriesOf: (hostKey: string) => HostSeries): Telemetry {
  return {
    request(record: RequestRecord) {
      const host = record.hostKey;
      const series = seriesOf(host);
      const method = KNOWN_METHODS.has(record.method) ? record.method : OTHER_METHOD;
      const cache = record.cache === undefined ? 'none' : record.cache.toLowerCase();
      const code = String(record.status);
      const labels = { host, method, code, cache };
      child(series, series.requests, `${method} ${code} ${cache}`, families.requests, labels).inc();
      const histogram = child(series, series.duration, method, families.duration, { host, method });
      histogram.observe(record.durationMs / 1000);
    },
    attempt(host: string, result: AttemptResult) {
      const series = seriesOf(host);
      child(series, series.attempts, result, families.attempts, { host, result }).inc();
    },
    retry(host: string, reason: string) {
      const series = seriesOf(host);
      child(series, series.retries, reason, families.retries, { host, reason }).inc();
    },
    retryBudgetExhausted(host: string) {
      const series = seriesOf(host);
      if (series.budgetExhausted === undefined) {
        series.budgetExhausted = families.budgetExhausted.labels({ host });
        series.removers.push(() => families.budgetExhausted.remove({ host }));
      }
      series.budgetExhausted.inc();
    },
    breakerTransition(event: BreakerTransition) {
      const host = event.hostKey;
      const series = seriesOf(host);
      const labels = { host, from: event.from, to: event.to };
      child(
        series,
        series.transitions,
        `${event.from} ${event.to}`,
        families.breakerTransitions,
        labels,
      ).inc();
    },
    cacheLookup(host: string, result: 'hit' | 'miss' | 'stale' | 'bypass') {
      const series = seriesOf(host);
      child(series, series.lookups, result, families.cacheLookups, { host, result }).inc();
    },
    cacheEviction(count: number) {
      if (count > 0) families.cacheEvictions.inc(count);
    },
    cacheInvalidation(count: number) {
      if (count > 0) families.cacheInvalidations.inc(count);
    },
    configReload(event: ConfigReloadEvent) {
      families.configReloads.inc({ result: event.result });
      if (event.result === 'success') families.configLastSuccess.set(Date.now() / 1000);
    },
  };
}

/**
 * Sets one series per configured key and state: how many of the key's
 * concrete breakers are in that state (0 or 1 for an exact key).
 */
function collectBreakerStates(
  gauge: Gauge<'host' | 'state'>,
  breakers: Iterable<{ readonly key: string; readonly state: BreakerStateName }>,
): void {
  const counts = new Map<string, Record<BreakerStateName, number>>();
  for (const breaker of breakers) {
    let count = counts.get(breaker.key);
    if (count === undefined) {
      count = { closed: 0, open: 0, half_open: 0 };
      counts.set(breaker.key, count);
    }
    count[breaker.state] += 1;
  }
  gauge.reset();
  for (const [host, count] of counts) {
    for (const state of BREAKER_STATES) gauge.set({ host, state }, count[state]);
  }
}

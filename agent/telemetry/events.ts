import type { AttemptResult } from '../policy/outcome.ts';

// The events the data plane emits. Layers report what happened through this
// one interface; only its implementations at the edges (the log and the
// metrics) decide what to write or count.

export type CacheStatus = 'HIT' | 'MISS' | 'STALE' | 'BYPASS';
export type BreakerStateName = 'closed' | 'open' | 'half_open';

/** One finished proxied request, as logged and counted. */
export interface RequestRecord {
  readonly requestId: string;
  /** Configured host key, `_unknown` for hosts outside the config: the metrics label. */
  readonly hostKey: string;
  /** The concrete host the application asked for. */
  readonly host: string;
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  readonly status: number;
  readonly attempts: number;
  readonly durationMs: number;
  readonly cache?: CacheStatus;
  readonly breaker?: BreakerStateName;
  /** Fender's error code when Fender made the response itself. */
  readonly error?: string;
  /** The underlying failure, for the log only (never a metric label). */
  readonly detail?: string;
  /** Set when the response was cut off after its headers were sent. */
  readonly aborted?: boolean;
}

export interface BreakerTransition {
  readonly hostKey: string;
  readonly host: string;
  readonly from: BreakerStateName;
  readonly to: BreakerStateName;
  /** Why: `failures`, `probe_succeeded`, `probe_failed`, `open_elapsed`, `forced_open`, `forced_closed`, `reset`, `override_expired`. */
  readonly reason: string;
  /** Failures inside the window when the breaker opened. */
  readonly failures?: number;
  readonly shadow: boolean;
}

export interface Telemetry {
  request(record: RequestRecord): void;
  attempt(hostKey: string, result: AttemptResult): void;
  /** `reason` is the attempt result that caused the retry (`5xx`, `connect_failure`, `429`...). */
  retry(hostKey: string, reason: string): void;
  retryBudgetExhausted(hostKey: string): void;
  breakerTransition(event: BreakerTransition): void;
  cacheLookup(hostKey: string, result: 'hit' | 'miss' | 'stale' | 'bypass'): void;
  cacheEviction(count: number): void;
  cacheInvalidation(count: number): void;
  configReload(event: ConfigReloadEvent): void;
}

export type ConfigReloadEvent =
  | {
      readonly result: 'success';
      readonly hash: string;
      readonly previousHash: string;
      readonly trigger: string;
    }
  | { readonly result: 'failure'; readonly problems: readonly string[]; readonly trigger: string };

/** A Telemetry that drops everything, for unit tests and tools. */
export const silentTelemetry: Telemetry = {
  request() {},
  attempt() {},
  retry() {},
  retryBudgetExhausted() {},
  breakerTransition() {},
  cacheLookup() {},
  cacheEviction() {},
  cacheInvalidation() {},
  configReload() {},
};

/** Combines several sinks into one; each event reaches each sink in order. */
export function fanOut(...sinks: Telemetry[]): Telemetry {
  // Plain loops: these run several times per request.
  return {
    request(r) {
      for (const sink of sinks) sink.request(r);
    },
    attempt(h, r) {
      for (const sink of sinks) sink.attempt(h, r);
    },
    retry(h, r) {
      for (const sink of sinks) sink.retry(h, r);
    },
    retryBudgetExhausted(h) {
      for (const sink of sinks) sink.retryBudgetExhausted(h);
    },
    breakerTransition(e) {
      for (const sink of sinks) sink.breakerTransition(e);
    },
    cacheLookup(h, r) {
      for (const sink of sinks) sink.cacheLookup(h, r);
    },
    cacheEviction(n) {
      for (const sink of sinks) sink.cacheEviction(n);
    },
    cacheInvalidation(n) {
      for (const sink of sinks) sink.cacheInvalidation(n);
    },
    configReload(e) {
      for (const sink of sinks) sink.configReload(e);
    },
  };
}

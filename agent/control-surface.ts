import type { BreakerStateName } from './telemetry/events.ts';

// The one interface through which the control side (control API, fenderctl
// through the API) reads and commands a running agent. control/ depends on
// this file; agent/ never imports anything from control/.

export type BreakerOverrideMode = 'auto' | 'forced_open' | 'forced_closed';

export interface BreakerView {
  /** The concrete host name (`a.example.com`, `api.example.com:8443`). */
  readonly host: string;
  /** The configured key it falls under (`*.example.com` for a wildcard match). */
  readonly key: string;
  readonly state: BreakerStateName;
  readonly mode: BreakerOverrideMode;
  /** `enforce` or `shadow`, from the host's policy. */
  readonly policyMode: 'enforce' | 'shadow';
  /** Failures inside the sliding window. */
  readonly failures: number;
  /** ISO time the breaker last opened, or null. */
  readonly openedAt: string | null;
  /** ISO time the next probe may go, or null when not open. */
  readonly retryAt: string | null;
  /** ISO time a forced mode ends by itself, or null when it lasts until reset. */
  readonly overrideUntil: string | null;
}

export type ReloadResult =
  | { readonly ok: true; readonly hash: string; readonly changed: boolean }
  | { readonly ok: false; readonly problems: readonly string[] };

export interface CacheStats {
  readonly entries: number;
  readonly bytes: number;
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly maxEntryBytes: number;
  readonly hits: number;
  readonly misses: number;
  readonly stale: number;
  readonly bypass: number;
  readonly evictions: number;
  readonly invalidations: number;
}

export interface AgentControl {
  listBreakers(): BreakerView[];
  /** undefined when `host` matches no configured key. */
  getBreaker(host: string): BreakerView | undefined;
  /** Forces a mode, for `forMs` milliseconds or until reset; undefined when `host` matches no configured key. */
  overrideBreaker(
    host: string,
    mode: 'forced_open' | 'forced_closed',
    forMs?: number,
  ): BreakerView | undefined;
  /** Back to `auto`, CLOSED, empty window. */
  resetBreaker(host: string): BreakerView | undefined;
  /** The effective config with secrets redacted. */
  effectiveConfig(): unknown;
  configHash(): string;
  reload(trigger: string): Promise<ReloadResult>;
  cacheStats(): CacheStats;
  /** Removes matching entries and returns how many went. */
  purgeCache(filter: { readonly host?: string; readonly prefix?: string }): number;
}

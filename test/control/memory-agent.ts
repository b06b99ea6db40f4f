import type {
  AgentControl,
  BreakerOverrideMode,
  BreakerView,
  CacheStats,
  ReloadResult,
} from '../../agent/control-surface.ts';
import type { BreakerStateName } from '../../agent/telemetry/events.ts';

// An in-memory AgentControl for the control API and fenderctl tests: real
// behaviour (keys, wildcard matching, overrides that expire, purge filters)
// without the data plane, so those tests exercise the HTTP surface alone.

interface Breaker {
  host: string;
  key: string;
  state: BreakerStateName;
  mode: BreakerOverrideMode;
  failures: number;
  openedAt: number | null;
  overrideUntil: number | null;
}

export interface CacheEntry {
  readonly host: string;
  readonly path: string;
  readonly bytes: number;
}

export class MemoryAgent implements AgentControl {
  keys: string[];
  hash = 'a'.repeat(64);
  /** The next reload's result; a reload that succeeds with a new hash sets `hash`. */
  nextReload: ReloadResult = { ok: true, hash: 'a'.repeat(64), changed: false };
  readonly reloads: string[] = [];
  entries: CacheEntry[] = [];
  private readonly breakers = new Map<string, Breaker>();

  constructor(keys: string[]) {
    this.keys = keys;
    for (const key of keys) if (!key.startsWith('*.')) this.breakerFor(key);
  }

  /** Puts a breaker into a state as the data plane would (open after failures). */
  trip(host: string, failures: number): void {
    const breaker = this.breakerFor(host);
    if (breaker === undefined) throw new Error(`no key for ${host}`);
    breaker.state = 'open';
    breaker.failures = failures;
    breaker.openedAt = Date.now();
  }

  listBreakers(): BreakerView[] {
    return [...this.breakers.values()].map((breaker) => this.view(breaker));
  }

  getBreaker(host: string): BreakerView | undefined {
    const breaker = this.breakerFor(host);

    return breaker === undefined ? undefined : this.view(breaker);
  }

  overrideBreaker(
    host: string,
    mode: 'forced_open' | 'forced_closed',
    forMs?: number,
  ): BreakerView | undefined {
    const breaker = this.breakerFor(host);
    if (breaker === undefined) return undefined;
    breaker.mode = mode;
    breaker.state = mode === 'forced_open' ? 'open' : 'closed';
    breaker.openedAt = mode === 'forced_open' ? Date.now() : breaker.openedAt;
    breaker.overrideUntil = forMs === undefined ? null : Date.now() + forMs;

    return this.view(breaker);
  }

  resetBreaker(host: string): BreakerView | undefined {
    const breaker = this.breakerFor(host);
    if (breaker === undefined) return undefined;
    Object.assign(breaker, { state: 'closed', mode: 'auto', failures: 0, overrideUntil: null });

    return this.view(breaker);
  }

  effectiveConfig(): unknown {
    return {
      hosts: Object.fromEntries(this.keys.map((key) => [key, { upstream: `https://${key}` }])),
    };
  }

  configHash(): string {
    return this.hash;
  }

  async reload(trigger: string): Promise<ReloadResult> {
    this.reloads.push(trigger);
    if (this.nextReload.ok) this.hash = this.nextReload.hash;

    return this.nextReload;
  }

  cacheStats(): CacheStats {
    const bytes = this.entries.reduce((sum, entry) => sum + entry.bytes, 0);
    const zero = { hits: 0, misses: 0, stale: 0, bypass: 0, evictions: 0, invalidations: 0 };

    return {
      entries: this.entries.length,
      bytes,
      maxEntries: 100,
      maxBytes: 1 << 20,
      maxEntryBytes: 1 << 16,
      ...zero,
    };
  }

  purgeCache(filter: { readonly host?: string; readonly prefix?: string }): number {
    const before = this.entries.length;
    this.entries = this.entries.filter(
      (entry) =>
        (filter.host !== undefined && entry.host !== filter.host) ||
        (filter.prefix !== undefined && !entry.path.startsWith(filter.prefix)),
    );

    return before - this.entries.length;
  }

  private keyOf(host: string): string | undefined {
    if (this.keys.includes(host)) return host;

    return this.keys.find(
      (key) => key.startsWith('*.') && host.endsWith(key.slice(1)) && host.length > key.length - 1,
    );
  }

  private breakerFor(host: string): Breaker | undefined {
    const key = this.keyOf(host);
    if (key === undefined) return undefined;
    let breaker = this.breakers.get(host);
    if (breaker === undefined) {
      breaker = {
        host,
        key,
        state: 'closed',
        mode: 'auto',
        failures: 0,
        openedAt: null,
        overrideUntil: null,
      };
      this.breakers.set(host, breaker);
    }

    return breaker;
  }

  private view(breaker: Breaker): BreakerView {
    if (breaker.overrideUntil !== null && Date.now() >= breaker.overrideUntil) {
      Object.assign(breaker, { mode: 'auto', state: 'closed', overrideUntil: null });
    }
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    const retryAt =
      breaker.state === 'open' && breaker.mode === 'auto' && breaker.openedAt !== null
        ? breaker.openedAt + 30_000
        : null;

    return {
      host: breaker.host,
      key: breaker.key,
      state: breaker.state,
      mode: breaker.mode,
      policyMode: 'enforce',
      failures: breaker.failures,
      openedAt: iso(breaker.openedAt),
      retryAt: iso(retryAt),
      overrideUntil: iso(breaker.overrideUntil),
    };
  }
}

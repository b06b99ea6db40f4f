import type { HostPolicy } from './config/types.ts';
import { Breaker } from './policy/breaker.ts';
import { RetryBudget } from './policy/budget.ts';
import type { UpstreamSpec } from './proxy/upstream.ts';
import type { Telemetry } from './telemetry/events.ts';

/** The state Fender keeps per concrete upstream host: one bad subdomain never trips another. */
export class HostState {
  readonly host: string;
  readonly key: string;
  readonly policyHash: string;
  readonly breaker: Breaker;
  readonly budget: RetryBudget;
  /** Requests to this host in flight now: the per-host bulkhead. */
  inFlight = 0;
  /** The upstream origin and connect options, resolved on the first attempt. */
  upstream: UpstreamSpec | undefined;

  constructor(host: string, policy: HostPolicy, telemetry: Telemetry) {
    this.host = host;
    this.key = policy.key;
    this.policyHash = policy.hash;
    this.budget = new RetryBudget(policy.retry.budget);
    this.breaker = new Breaker(policy.breaker, {
      onTransition: (event) => telemetry.breakerTransition({ ...event, hostKey: policy.key, host }),
    });
  }
}

/**
 * Concrete hosts matched by wildcard keys or passed through are named by the
 * application, so their number is capped. Past the cap, the oldest state with
 * nothing in flight is evicted.
 */
const MAX_DYNAMIC_HOSTS = 10_000;

/**
 * Per-host state across config reloads: a host whose policy hash is
 * unchanged keeps its breaker and budget; a changed policy starts them anew
 * but keeps an operator's breaker override.
 */
export class HostStates {
  readonly #states = new Map<string, HostState>();
  readonly #telemetry: Telemetry;
  readonly #maxDynamic: number;

  constructor(telemetry: Telemetry, maxDynamicHosts = MAX_DYNAMIC_HOSTS) {
    this.#telemetry = telemetry;
    this.#maxDynamic = maxDynamicHosts;
  }

  /** Returns the state for `host` under `policy`, creating or renewing it. */
  get(host: string, policy: HostPolicy): HostState {
    const state = this.#states.get(host);
    if (state !== undefined && state.policyHash === policy.hash) return state;

    const renewed = new HostState(host, policy, this.#telemetry);
    if (state !== undefined) {
      const view = state.breaker.view();
      if (view.mode !== 'auto') renewed.breaker.force(view.mode, view.overrideUntil ?? undefined);
    } else if (host !== policy.key && this.#states.size >= this.#maxDynamic) {
      this.#evictIdle();
    }
    this.#states.set(host, renewed);

    return renewed;
  }

  /** Returns the state of `host` if one exists, without creating it. */
  peek(host: string): HostState | undefined {
    return this.#states.get(host);
  }

  values(): IterableIterator<HostState> {
    return this.#states.values();
  }

  /** Drops hosts for which `keep` is false (hosts removed from the config). */
  prune(keep: (state: HostState) => boolean): void {
    for (const [host, state] of this.#states) {
      if (!keep(state)) this.#states.delete(host);
    }
  }

  /**
   * Evicts the oldest dynamic host with nothing in flight, whatever its
   * breaker state: a bounded map matters more than the state of a host not
   * seen for the longest time. Map order is insertion order, so the walk
   * usually stops at the first entry.
   */
  #evictIdle(): void {
    for (const [host, state] of this.#states) {
      if (host === state.key || state.inFlight > 0) continue;
      this.#states.delete(host);

      return;
    }
  }
}

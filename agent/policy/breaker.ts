import type { BreakerPolicy } from '../config/types.ts';
import type { BreakerStateName } from '../telemetry/events.ts';
import { SlidingWindow } from './window.ts';

// The circuit breaker of one concrete upstream host. It is a pure state
// machine over an injected clock: callers ask for a permit before each
// upstream attempt and settle it with the attempt's outcome. Node runs
// acquire() to completion before any other caller, so claiming a half-open
// probe slot is atomic without a lock.

/** Override mode: `auto` follows the policy, and the forced modes are operator overrides. */
export type BreakerOverride = 'auto' | 'forced_open' | 'forced_closed';

/** The cause of a transition. */
export type TransitionReason =
  | 'failures'
  | 'open_elapsed'
  | 'probe_succeeded'
  | 'probe_failed'
  | 'forced_open'
  | 'forced_closed'
  | 'reset'
  | 'override_expired';

export interface BreakerTransitionEvent {
  readonly from: BreakerStateName;
  readonly to: BreakerStateName;
  readonly reason: TransitionReason;
  /** Failures inside the window, set only when the breaker opened for `failures`. */
  readonly failures?: number;
  /** True when the policy mode is `shadow`, so the transition rejected no request. */
  readonly shadow: boolean;
}

export interface BreakerOptions {
  /** Clock in milliseconds, `Date.now` by default. */
  readonly now?: () => number;
  readonly onTransition?: (event: BreakerTransitionEvent) => void;
}

/** Admission for one upstream attempt. The first call of success, failure or release settles it, and later calls do nothing. */
export interface BreakerPermit {
  readonly admitted: true;
  /** Granted only because the mode is `shadow`: enforce would have rejected it, and its outcome is not counted. */
  readonly shadowRejected: boolean;
  /** Settles with an outcome outside `failOn`: the upstream is healthy. */
  success(): void;
  /** Settles with an outcome that matches `failOn`. */
  failure(): void;
  /**
   * Settles without an outcome to judge, as when the client went away or the
   * attempt was aborted locally. Nothing is counted, and a probe slot is freed.
   */
  release(): void;
}

export interface BreakerRejection {
  readonly admitted: false;
  readonly state: BreakerStateName;
  /** Milliseconds until a request may be admitted again, for `Retry-After`. */
  readonly retryAfterMs: number;
}

export interface BreakerView {
  /** The state requests see: `open` under `forced_open`, `closed` under `forced_closed`. */
  readonly state: BreakerStateName;
  readonly mode: BreakerOverride;
  /** Failures inside the sliding window. */
  readonly failures: number;
  /** When the breaker last opened (ms since epoch), or null since creation or reset. */
  readonly openedAt: number | null;
  /** When the next probe may go (ms since epoch), or null when not open or open until reset. */
  readonly retryAt: number | null;
  /** When the override ends by itself (ms since epoch), or null. */
  readonly overrideUntil: number | null;
}

type AutoState =
  | { readonly name: 'closed' }
  | { readonly name: 'open'; readonly retryAt: number }
  | { readonly name: 'half_open'; inFlight: number; successes: number };

interface Override {
  readonly mode: 'forced_open' | 'forced_closed';
  readonly until: number | null;
}

type Outcome = 'success' | 'failure' | 'release';

// A permit's role decides how its outcome is applied: `counted` permits were
// granted while closed, `probe` permits while half-open, and `uncounted`
// ones (forced_closed, shadow rejections) never touch the state machine.
type Role = 'counted' | 'probe' | 'uncounted';

export class Breaker {
  readonly #policy: BreakerPolicy;
  readonly #now: () => number;
  readonly #onTransition: (event: BreakerTransitionEvent) => void;
  readonly #failures: SlidingWindow;
  #state: AutoState = { name: 'closed' };
  #override: Override | null = null;
  #openedAt: number | null = null;
  // Bumped on every change of state or override, so a permit granted under an
  // earlier state (a closed-era request finishing while half-open, a probe
  // outliving a reset) settles without effect.
  #generation = 0;

  constructor(policy: BreakerPolicy, options: BreakerOptions = {}) {
    checkPolicy(policy);
    this.#policy = policy;
    this.#now = options.now ?? Date.now;
    this.#onTransition = options.onTransition ?? (() => {});
    this.#failures = new SlidingWindow(policy.windowMs, { now: this.#now });
  }

  /** Admits or rejects one upstream attempt, claiming a probe slot when half-open. */
  acquire(): BreakerPermit | BreakerRejection {
    this.#advance();
    const override = this.#override;
    if (override?.mode === 'forced_closed') return this.#permit('uncounted');
    if (override?.mode === 'forced_open') {
      const retryAfterMs =
        override.until === null ? this.#policy.openForMs : override.until - this.#now();

      return this.#reject('open', retryAfterMs);
    }

    const state = this.#state;
    switch (state.name) {
      case 'closed':
        return this.#permit('counted');
      case 'open':
        return this.#reject('open', state.retryAt - this.#now());
      case 'half_open':
        if (state.inFlight + state.successes < this.#policy.halfOpenRequests) {
          state.inFlight++;

          return this.#permit('probe');
        }
        // The probe's end is unknown. If it fails, no new probe goes for at
        // least openForMs, so that is the earliest honest time to come back.
        return this.#reject('half_open', this.#policy.openForMs);
    }
  }

  /**
   * Overrides the policy until `untilMs` (ms since epoch on this breaker's
   * clock) or, without it, until reset(). An `untilMs` already past expires at
   * once. The automatic state starts afresh, so when forced_open ends the
   * breaker is half-open and the next request probes. When forced_closed ends
   * it is closed with an empty window.
   */
  force(mode: 'forced_open' | 'forced_closed', untilMs?: number): void {
    this.#advance();
    if (untilMs !== undefined && !Number.isFinite(untilMs)) {
      throw new RangeError(
        `untilMs must be a finite time in milliseconds since epoch, got ${untilMs}`,
      );
    }
    this.#change(mode, () => {
      if (mode === 'forced_open' && this.#visibleState() !== 'open') this.#openedAt = this.#now();
      this.#override = { mode, until: untilMs ?? null };
      this.#state = { name: 'closed' };
      this.#failures.clear();
    });
    // A caller copying an override that ended a moment ago gets the state
    // that override would have expired into, with both transitions reported.
    this.#advance();
  }

  /** Clears any override: back to auto, closed, with an empty window. */
  reset(): void {
    this.#advance();
    this.#change('reset', () => {
      this.#override = null;
      this.#state = { name: 'closed' };
      this.#openedAt = null;
      this.#failures.clear();
    });
  }

  /** The state requests see now, as in view(), without building the whole view. */
  get state(): BreakerStateName {
    this.#advance();

    return this.#visibleState();
  }

  /** Returns the current state, after applying any elapsed open period or override. */
  view(): BreakerView {
    this.#advance();
    const override = this.#override;

    return {
      state: this.#visibleState(),
      mode: override?.mode ?? 'auto',
      failures: this.#failures.total(),
      openedAt: this.#openedAt,
      retryAt: this.#retryAt(),
      overrideUntil: override?.until ?? null,
    };
  }

  #retryAt(): number | null {
    if (this.#override?.mode === 'forced_open') return this.#override.until;
    if (this.#override === null && this.#state.name === 'open') return this.#state.retryAt;

    return null;
  }

  #visibleState(): BreakerStateName {
    if (this.#override?.mode === 'forced_open') return 'open';
    if (this.#override?.mode === 'forced_closed') return 'closed';

    return this.#state.name;
  }

  // Applies what time alone changes: an override that ran out, then an open
  // period that ended. Every public call starts here, so no timer is needed.
  #advance(): void {
    const override = this.#override;
    if (override !== null && override.until !== null && this.#now() >= override.until) {
      this.#change('override_expired', () => {
        this.#override = null;
        if (override.mode === 'forced_open') this.#state = halfOpen();
      });
    }
    if (this.#override === null && this.#state.name === 'open') {
      if (this.#now() >= this.#state.retryAt) {
        this.#change('open_elapsed', () => (this.#state = halfOpen()));
      }
    }
  }

  #permit(role: Role): BreakerPermit {
    return this.#makePermit(role, false);
  }

  #reject(state: BreakerStateName, retryAfterMs: number): BreakerPermit | BreakerRejection {
    if (this.#policy.mode === 'shadow') return this.#makePermit('uncounted', true);

    return { admitted: false, state, retryAfterMs: Math.max(0, retryAfterMs) };
  }

  #makePermit(role: Role, shadowRejected: boolean): BreakerPermit {
    const generation = this.#generation;
    let settled = false;
    const settle = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      this.#settle(role, generation, outcome);
    };

    return {
      admitted: true,
      shadowRejected,
      success: () => settle('success'),
      failure: () => settle('failure'),
      release: () => settle('release'),
    };
  }

  #settle(role: Role, generation: number, outcome: Outcome): void {
    this.#advance();
    if (role === 'uncounted' || generation !== this.#generation) return;

    if (role === 'counted') {
      if (outcome === 'failure') this.#recordFailure();
    } else {
      this.#settleProbe(outcome);
    }
  }

  #recordFailure(): void {
    this.#failures.add();
    const failures = this.#failures.total();
    if (failures >= this.#policy.failures) this.#open('failures', failures);
  }

  #settleProbe(outcome: Outcome): void {
    const state = this.#state;
    if (state.name !== 'half_open') return;

    state.inFlight--;
    if (outcome === 'failure') {
      this.#open('probe_failed');
    } else if (outcome === 'success') {
      state.successes++;
      if (state.successes >= this.#policy.halfOpenRequests) {
        this.#change('probe_succeeded', () => {
          this.#state = { name: 'closed' };
          this.#failures.clear();
        });
      }
    }
  }

  #open(reason: 'failures' | 'probe_failed', failures?: number): void {
    const now = this.#now();
    this.#change(
      reason,
      () => {
        this.#state = { name: 'open', retryAt: now + this.#policy.openForMs };
        this.#openedAt = now;
      },
      failures,
    );
  }

  // Runs `mutate`, invalidates outstanding permits and reports a transition
  // when the state requests see has changed.
  #change(reason: TransitionReason, mutate: () => void, failures?: number): void {
    const from = this.#visibleState();
    mutate();
    this.#generation++;
    const to = this.#visibleState();
    if (from === to) return;

    const shadow = this.#policy.mode === 'shadow';
    this.#onTransition(
      failures === undefined
        ? { from, to, reason, shadow }
        : { from, to, reason, failures, shadow },
    );
  }
}

function halfOpen(): AutoState {
  return { name: 'half_open', inFlight: 0, successes: 0 };
}

function checkPolicy(policy: BreakerPolicy): void {
  for (const key of ['failures', 'halfOpenRequests'] as const) {
    const value = policy[key];
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`breaker.${key} must be a whole number of at least 1, got ${value}`);
    }
  }
  if (!Number.isFinite(policy.openForMs) || policy.openForMs < 0) {
    throw new RangeError(
      `breaker.openForMs must be a non-negative number, got ${policy.openForMs}`,
    );
  }
}

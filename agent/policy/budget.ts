import type { RetryPolicy } from '../config/types.ts';
import { SlidingWindow } from './window.ts';

// A retry budget caps retries at a share of recent traffic, so a failing
// upstream receives about (1 + ratio) × the request rate instead of
// (1 + retries) × that rate. The floor of minPerSecond lets a host with little
// traffic still retry.

/** Retries allowed per concrete host over a sliding window. */
export class RetryBudget {
  readonly #ratio: number;
  readonly #minRetries: number;
  readonly #requests: SlidingWindow;
  readonly #retries: SlidingWindow;

  constructor(budget: RetryPolicy['budget'], options: { readonly now?: () => number } = {}) {
    if (!Number.isFinite(budget.ratio) || budget.ratio < 0) {
      throw new RangeError(`budget.ratio must be a non-negative number, got ${budget.ratio}`);
    }
    if (!Number.isFinite(budget.minPerSecond) || budget.minPerSecond < 0) {
      throw new RangeError(
        `budget.minPerSecond must be a non-negative number, got ${budget.minPerSecond}`,
      );
    }
    this.#ratio = budget.ratio;
    this.#minRetries = budget.minPerSecond * (budget.windowMs / 1000);
    this.#requests = new SlidingWindow(budget.windowMs, options);
    this.#retries = new SlidingWindow(budget.windowMs, options);
  }

  /** Records one client request. Call it once per request, not per attempt. */
  recordRequest(): void {
    this.#requests.add();
  }

  /**
   * Records a retry and returns true when it fits within
   * ratio × requests + minPerSecond × window seconds. Otherwise it returns
   * false and records nothing.
   */
  tryAcquire(): boolean {
    const allowed = this.#ratio * this.#requests.total() + this.#minRetries;
    if (this.#retries.total() + 1 > allowed) return false;

    this.#retries.add();

    return true;
  }
}

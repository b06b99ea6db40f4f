// A sliding-window event counter in constant memory, written by hand because
// the counter must be cleared lazily from an injected clock, which none of the
// installed packages offers. The window is a ring of BUCKETS buckets, each
// covering windowMs / BUCKETS. Ten buckets keep the memory at ten numbers per
// counter whatever the traffic, and an event expires at most one bucket (10 %
// of the window) early. So an event is counted for at least 0.9 × windowMs and
// never for longer than windowMs.

/** Buckets per window: the trade between memory and how early an event may expire. */
export const BUCKETS = 10;

export interface SlidingWindowOptions {
  /** Clock in milliseconds, `Date.now` by default. */
  readonly now?: () => number;
}

/** Counts events over the last `windowMs` milliseconds. */
export class SlidingWindow {
  readonly #bucketMs: number;
  readonly #now: () => number;
  readonly #counts = new Array<number>(BUCKETS).fill(0);
  // The bucket number (time / bucketMs, floored) each slot holds, so a slot
  // left over from an earlier lap of the ring is recognised as stale.
  readonly #slotBucket = new Array<number>(BUCKETS).fill(-Infinity);
  #latestBucket = -Infinity;

  constructor(windowMs: number, options: SlidingWindowOptions = {}) {
    if (!Number.isFinite(windowMs) || windowMs <= 0) {
      throw new RangeError(`windowMs must be a positive number of milliseconds, got ${windowMs}`);
    }
    this.#bucketMs = windowMs / BUCKETS;
    this.#now = options.now ?? Date.now;
  }

  /** Records `n` events at the current time. */
  add(n = 1): void {
    const bucket = this.#currentBucket();
    const slot = bucket % BUCKETS;
    if (this.#slotBucket[slot] !== bucket) {
      this.#slotBucket[slot] = bucket;
      this.#counts[slot] = 0;
    }
    this.#counts[slot] = (this.#counts[slot] ?? 0) + n;
  }

  /** Returns the number of events recorded within the window. */
  total(): number {
    const oldest = this.#currentBucket() - BUCKETS + 1;
    let sum = 0;
    for (let slot = 0; slot < BUCKETS; slot++) {
      if ((this.#slotBucket[slot] ?? -Infinity) >= oldest) sum += this.#counts[slot] ?? 0;
    }

    return sum;
  }

  /** Forgets every recorded event. */
  clear(): void {
    this.#counts.fill(0);
    this.#slotBucket.fill(-Infinity);
  }

  // A clock that steps backwards (a wall-clock adjustment) holds the window
  // at the latest bucket seen rather than reviving expired buckets.
  #currentBucket(): number {
    const bucket = Math.floor(this.#now() / this.#bucketMs);
    this.#latestBucket = Math.max(this.#latestBucket, bucket);

    return this.#latestBucket;
  }
}

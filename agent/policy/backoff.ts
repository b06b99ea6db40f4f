import type { JitterMode } from '../config/types.ts';

/** Exponential backoff settings, in milliseconds. */
export interface Backoff {
  readonly baseMs: number;
  readonly maxMs: number;
  readonly jitter: JitterMode;
}

// 2 ** 1023 is the largest finite power of two, so larger exponents cannot
// overflow to Infinity (and 0 × Infinity to NaN when baseMs is 0).
const MAX_EXPONENT = 1023;

/**
 * Returns the delay in milliseconds (not rounded) before retry `n`, counted
 * from 0. The cap is min(maxMs, baseMs × 2ⁿ). `full` jitter draws uniformly
 * from [0, cap), `equal` from [cap/2, cap), and `none` returns the cap.
 */
export function backoffDelay(
  n: number,
  backoff: Backoff,
  random: () => number = Math.random,
): number {
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`retry number must be a whole number from 0, got ${n}`);
  }
  const cap = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(n, MAX_EXPONENT));

  switch (backoff.jitter) {
    case 'full':
      return cap * random();
    case 'equal':
      return cap / 2 + (cap / 2) * random();
    case 'none':
      return cap;
  }
}

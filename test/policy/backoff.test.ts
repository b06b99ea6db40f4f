import { describe, expect, it } from 'vitest';
import { backoffDelay, type Backoff } from '../../agent/policy/backoff.ts';

const BASE: Omit<Backoff, 'jitter'> = { baseMs: 1_000, maxMs: 30_000 };
// Math.random returns values in [0, 1): these are its two ends.
const LOWEST = () => 0;
const HIGHEST = () => 1 - Number.EPSILON;

describe('backoffDelay', () => {
  it('doubles the cap up to maxMs', () => {
    const none: Backoff = { ...BASE, jitter: 'none' };
    const delays = [0, 1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, none));

    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
  });

  it('draws full jitter from zero to the cap', () => {
    const full: Backoff = { ...BASE, jitter: 'full' };

    expect(backoffDelay(2, full, LOWEST)).toBe(0);
    expect(backoffDelay(2, full, () => 0.5)).toBe(2_000);
    expect(backoffDelay(2, full, HIGHEST)).toBeLessThan(4_000);
    expect(backoffDelay(2, full, HIGHEST)).toBeGreaterThan(3_999);
  });

  it('draws equal jitter from half the cap to the cap', () => {
    const equal: Backoff = { ...BASE, jitter: 'equal' };

    expect(backoffDelay(2, equal, LOWEST)).toBe(2_000);
    expect(backoffDelay(2, equal, () => 0.5)).toBe(3_000);
    expect(backoffDelay(2, equal, HIGHEST)).toBeLessThan(4_000);
    expect(backoffDelay(2, equal, HIGHEST)).toBeGreaterThan(3_999);
  });

  it('ignores random without jitter', () => {
    expect(backoffDelay(1, { ...BASE, jitter: 'none' }, () => 0.1)).toBe(2_000);
  });

  it('stays at maxMs for large retry numbers', () => {
    const none: Backoff = { ...BASE, jitter: 'none' };

    expect(backoffDelay(1_100, none)).toBe(30_000);
    expect(backoffDelay(1_000_000, { ...none, baseMs: 0 })).toBe(0);
    expect(backoffDelay(1_000_000, { ...BASE, jitter: 'full' }, () => 0.5)).toBe(15_000);
  });

  it('defaults to Math.random', () => {
    const delay = backoffDelay(3, { ...BASE, jitter: 'full' });

    expect(delay).toBeGreaterThanOrEqual(0);
    expect(delay).toBeLessThan(8_000);
  });

  it('rejects a retry number that is not a whole number', () => {
    const none: Backoff = { ...BASE, jitter: 'none' };

    expect(() => backoffDelay(-1, none)).toThrow(/retry number .* got -1/);
    expect(() => backoffDelay(0.5, none)).toThrow(RangeError);
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SlidingWindow } from '../../agent/policy/window.ts';

describe('SlidingWindow', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    // A whole minute, so bucket boundaries fall on the test's round numbers.
    vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('counts events added within the window', () => {
    const window = new SlidingWindow(60_000);
    window.add();
    window.add(3);
    vi.advanceTimersByTime(30_000);
    window.add();

    expect(window.total()).toBe(5);
  });

  it('keeps an event for at least 90 % of the window', () => {
    const window = new SlidingWindow(60_000);
    vi.advanceTimersByTime(5_999); // the end of a bucket, so the event expires earliest
    window.add();
    vi.advanceTimersByTime(54_000 - 1);
    expect(window.total()).toBe(1);

    vi.advanceTimersByTime(2);
    expect(window.total()).toBe(0);
  });

  it('drops an event once windowMs has passed', () => {
    const window = new SlidingWindow(60_000);
    window.add(); // at the start of a bucket, so it lives the longest
    vi.advanceTimersByTime(60_000 - 1);
    expect(window.total()).toBe(1);

    vi.advanceTimersByTime(1);
    expect(window.total()).toBe(0);
  });

  it('stays within bounds as the ring wraps', () => {
    const window = new SlidingWindow(60_000);
    for (let second = 0; second < 600; second++) {
      window.add();
      vi.advanceTimersByTime(1_000);
      const total = window.total();
      expect(total).toBeLessThanOrEqual(60);
      if (second >= 60) expect(total).toBeGreaterThanOrEqual(54);
    }
  });

  it('clears every bucket', () => {
    const window = new SlidingWindow(10_000);
    window.add(7);
    window.clear();

    expect(window.total()).toBe(0);
  });

  it('does not revive expired events when the clock steps back', () => {
    let nowMs = 1_000_000;
    const window = new SlidingWindow(10_000, { now: () => nowMs });
    window.add();
    nowMs += 20_000;
    expect(window.total()).toBe(0);

    nowMs -= 20_000;
    expect(window.total()).toBe(0);
  });

  it('rejects a window that is not positive', () => {
    expect(() => new SlidingWindow(0)).toThrow(/windowMs must be a positive number.*got 0/);
    expect(() => new SlidingWindow(Number.NaN)).toThrow(RangeError);
  });
});

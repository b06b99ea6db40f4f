import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RetryBudget } from '../../agent/policy/budget.ts';

const BUDGET = { ratio: 0.2, minPerSecond: 10, windowMs: 10_000 };

function acquireAll(budget: RetryBudget, limit = 100_000): number {
  let granted = 0;
  while (granted < limit && budget.tryAcquire()) granted++;

  return granted;
}

describe('RetryBudget', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    // A whole minute, so bucket boundaries fall on the test's round numbers.
    vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('allows the per-second minimum without traffic', () => {
    const budget = new RetryBudget(BUDGET);

    expect(acquireAll(budget)).toBe(100);
  });

  it('adds ratio times the requests', () => {
    const budget = new RetryBudget(BUDGET);
    for (let i = 0; i < 1_000; i++) budget.recordRequest();

    expect(acquireAll(budget)).toBe(300);
  });

  it('records nothing for a rejected retry', () => {
    const budget = new RetryBudget({ ratio: 0.2, minPerSecond: 1, windowMs: 1_000 });
    expect(budget.tryAcquire()).toBe(true);
    for (let i = 0; i < 5; i++) expect(budget.tryAcquire()).toBe(false);

    for (let i = 0; i < 5; i++) budget.recordRequest();
    expect(budget.tryAcquire()).toBe(true);
    expect(budget.tryAcquire()).toBe(false);
  });

  it('frees retries as the window slides', () => {
    const budget = new RetryBudget(BUDGET);
    expect(acquireAll(budget)).toBe(100);

    vi.advanceTimersByTime(5_000);
    expect(budget.tryAcquire()).toBe(false);
    vi.advanceTimersByTime(5_000);
    expect(acquireAll(budget)).toBe(100);
  });

  it('allows no retry with a zero budget', () => {
    const budget = new RetryBudget({ ratio: 0, minPerSecond: 0, windowMs: 10_000 });
    for (let i = 0; i < 100; i++) budget.recordRequest();

    expect(budget.tryAcquire()).toBe(false);
  });

  it('holds a retry storm near the ratio', () => {
    // 100 client requests always in flight, every attempt fails after 200 ms,
    // and each request may retry 3 times: without a budget, 4 attempts each.
    const budget = new RetryBudget(BUDGET);
    const retriesLeft = Array.from({ length: 100 }, () => 3);
    for (let i = 0; i < 100; i++) budget.recordRequest();
    let requests = 100;
    let retries = 0;
    const step = () => {
      vi.advanceTimersByTime(200);
      for (let slot = 0; slot < retriesLeft.length; slot++) {
        if ((retriesLeft[slot] ?? 0) > 0 && budget.tryAcquire()) {
          retriesLeft[slot] = (retriesLeft[slot] ?? 0) - 1;
          retries++;
        } else {
          retriesLeft[slot] = 3;
          budget.recordRequest();
          requests++;
        }
      }
    };

    // Nothing leaves the window during its first 10 s, so the bound is exact.
    for (let elapsed = 200; elapsed < 10_000; elapsed += 200) step();
    const allowed = BUDGET.ratio * requests + BUDGET.minPerSecond * 10;
    expect(retries).toBeLessThanOrEqual(allowed);
    expect(retries).toBeGreaterThan(allowed - 2);

    for (let elapsed = 10_000; elapsed < 60_000; elapsed += 200) step();
    expect((requests + retries) / requests).toBeLessThan(1.3);
  });

  it('rejects a negative ratio', () => {
    expect(() => new RetryBudget({ ...BUDGET, ratio: -0.1 })).toThrow(/budget.ratio .* got -0.1/);
    expect(() => new RetryBudget({ ...BUDGET, minPerSecond: -1 })).toThrow(/minPerSecond/);
  });
});

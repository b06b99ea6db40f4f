import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BreakerPolicy } from '../../agent/config/types.ts';
import {
  Breaker,
  type BreakerPermit,
  type BreakerRejection,
  type BreakerTransitionEvent,
} from '../../agent/policy/breaker.ts';
import { matcher } from './helpers.ts';

const START = new Date('2026-01-01T00:00:00Z').getTime();

const POLICY: BreakerPolicy = {
  failures: 5,
  windowMs: 60_000,
  openForMs: 30_000,
  halfOpenRequests: 1,
  failOn: matcher('5xx', 'connect-failure', 'reset', 'timeout'),
  mode: 'enforce',
};

function makeBreaker(overrides: Partial<BreakerPolicy> = {}) {
  const transitions: BreakerTransitionEvent[] = [];
  const breaker = new Breaker(
    { ...POLICY, ...overrides },
    { onTransition: (event) => transitions.push(event) },
  );

  return { breaker, transitions };
}

function permit(breaker: Breaker): BreakerPermit {
  const result = breaker.acquire();
  if (!result.admitted) throw new Error(`expected a permit, got a rejection in ${result.state}`);

  return result;
}

function fail(breaker: Breaker, count: number): void {
  for (let i = 0; i < count; i++) permit(breaker).failure();
}

function openBreaker(breaker: Breaker): void {
  fail(breaker, POLICY.failures);
}

// Node serves concurrent requests one callback at a time, so a burst of
// requests arriving together reaches acquire() as back-to-back calls.
function burst(breaker: Breaker, count: number) {
  const results = Array.from({ length: count }, () => breaker.acquire());
  const permits = results.filter((r): r is BreakerPermit => r.admitted);
  const rejections = results.filter((r): r is BreakerRejection => !r.admitted);

  return { permits, rejections };
}

describe('Breaker', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(START);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('opens after the failure threshold', () => {
    const { breaker, transitions } = makeBreaker();
    fail(breaker, 4);
    expect(breaker.view().state).toBe('closed');
    expect(breaker.view().failures).toBe(4);

    fail(breaker, 1);
    expect(breaker.view().state).toBe('open');
    expect(transitions).toEqual([
      { from: 'closed', to: 'open', reason: 'failures', failures: 5, shadow: false },
    ]);
  });

  it('state matches the view through open and half-open', () => {
    const { breaker } = makeBreaker();
    expect(breaker.state).toBe('closed');

    openBreaker(breaker);
    expect(breaker.state).toBe('open');
    expect(breaker.view().state).toBe('open');

    vi.advanceTimersByTime(POLICY.openForMs);
    expect(breaker.state).toBe(breaker.view().state);
    breaker.force('forced_closed');
    expect(breaker.state).toBe('closed');
  });

  it('ignores successes when counting failures', () => {
    const { breaker } = makeBreaker();
    for (let i = 0; i < 4; i++) {
      permit(breaker).failure();
      permit(breaker).success();
    }
    fail(breaker, 1);

    expect(breaker.view().state).toBe('open');
  });

  it('does not count failures outside the window', () => {
    const { breaker } = makeBreaker();
    fail(breaker, 4);
    vi.advanceTimersByTime(60_000);
    fail(breaker, 4);

    expect(breaker.view().state).toBe('closed');
    expect(breaker.view().failures).toBe(4);
  });

  it('rejects at once while open', () => {
    const { breaker } = makeBreaker();
    openBreaker(breaker);
    vi.advanceTimersByTime(10_000);

    expect(breaker.acquire()).toEqual({ admitted: false, state: 'open', retryAfterMs: 20_000 });
    expect(breaker.view()).toEqual({
      state: 'open',
      mode: 'auto',
      failures: 5,
      openedAt: START,
      retryAt: START + 30_000,
      overrideUntil: null,
    });
  });

  it('stays open until openFor has passed', () => {
    const { breaker } = makeBreaker();
    openBreaker(breaker);
    vi.advanceTimersByTime(30_000 - 1);
    expect(breaker.acquire().admitted).toBe(false);

    vi.advanceTimersByTime(1);
    expect(breaker.acquire().admitted).toBe(true);
  });

  it('admits exactly one of 50 probes', () => {
    const { breaker, transitions } = makeBreaker();
    openBreaker(breaker);
    vi.advanceTimersByTime(30_000);

    const { permits, rejections } = burst(breaker, 50);
    expect(permits).toHaveLength(1);
    expect(rejections).toHaveLength(49);
    for (const rejection of rejections) {
      expect(rejection).toEqual({ admitted: false, state: 'half_open', retryAfterMs: 30_000 });
    }
    expect(transitions.at(-1)).toEqual({
      from: 'open',
      to: 'half_open',
      reason: 'open_elapsed',
      shadow: false,
    });
  });

  it('admits exactly halfOpenRequests probes', () => {
    const { breaker } = makeBreaker({ halfOpenRequests: 3 });
    openBreaker(breaker);
    vi.advanceTimersByTime(30_000);

    const { permits, rejections } = burst(breaker, 50);
    expect(permits).toHaveLength(3);
    expect(rejections).toHaveLength(47);
  });

  it('closes after a probe succeeds', () => {
    const { breaker, transitions } = makeBreaker();
    openBreaker(breaker);
    vi.advanceTimersByTime(30_000);
    const probe = permit(breaker);
    vi.advanceTimersByTime(500);
    probe.success();

    expect(breaker.view()).toMatchObject({ state: 'closed', failures: 0, retryAt: null });
    expect(transitions.at(-1)).toEqual({
      from: 'half_open',
      to: 'closed',
      reason: 'probe_succeeded',
      shadow: false,
    });
    expect(burst(breaker, 50).permits).toHaveLength(50);
  });

  it('closes only after every probe succeeds', () => {
    const { breaker } = makeBreaker({ halfOpenRequests: 3 });
    openBreaker(breaker);
    vi.advanceTimersByTime(30_000);
    const { permits } = burst(breaker, 3);
    permits[0]?.success();
    permits[1]?.success();
    expect(breaker.view().state).toBe('half_open');
    // Succeeded probes keep their slots, so no fourth probe goes.
    expect(breaker.acquire().admitted).toBe(false);

    permits[2]?.success();
    expect(breaker.view().state).toBe('closed');
  });

  it('reopens after a probe fails', () => {
    const { breaker, transitions } = makeBreaker();
    openBreaker(breaker);
    vi.advanceTimersByTime(30_000);
    const probe = permit(breaker);
    vi.advanceTimersByTime(10_000); // the probe ends by read timeout
    probe.failure();

    expect(transitions.at(-1)).toEqual({
      from: 'half_open',
      to: 'open',
      reason: 'probe_failed',
      shadow: false,
    });
    expect(breaker.view()).toMatchObject({
      state: 'open',
      openedAt: START + 40_000,
      retryAt: START + 70_000,
    });
    expect(breaker.acquire()).toEqual({ admitted: false, state: 'open', retryAfterMs: 30_000 });

    vi.advanceTimersByTime(30_000);
    expect(burst(breaker, 50).permits).toHaveLength(1);
  });

  it('reopens when one of several probes fails', () => {
    const { breaker } = makeBreaker({ halfOpenRequests: 3 });
    openBreaker(breaker);
    vi.advanceTimersByTime(30_000);
    const { permits } = burst(breaker, 3);
    permits[0]?.success();
    permits[1]?.failure();
    permits[2]?.success();

    expect(breaker.view().state).toBe('open');
  });

  it('frees the probe slot on release', () => {
    const { breaker, transitions } = makeBreaker();
    openBreaker(breaker);
    vi.advanceTimersByTime(30_000);
    permit(breaker).release();

    expect(breaker.view().state).toBe('half_open');
    const { permits } = burst(breaker, 50);
    expect(permits).toHaveLength(1);
    expect(transitions).toHaveLength(2);
  });

  it('settles each permit once', () => {
    const { breaker } = makeBreaker();
    const first = permit(breaker);
    for (let i = 0; i < 10; i++) first.failure();
    expect(breaker.view().failures).toBe(1);

    fail(breaker, 4);
    vi.advanceTimersByTime(30_000);
    const probe = permit(breaker);
    probe.release();
    probe.release();
    const { permits } = burst(breaker, 2);
    expect(permits).toHaveLength(1);
  });

  it('ignores outcomes from an earlier state', () => {
    const { breaker } = makeBreaker();
    const lateSuccess = permit(breaker);
    const lateFailure = permit(breaker);
    openBreaker(breaker);
    vi.advanceTimersByTime(30_000);
    const probe = permit(breaker);

    lateSuccess.success();
    expect(breaker.view().state).toBe('half_open');
    lateFailure.failure();
    expect(breaker.view().state).toBe('half_open');

    probe.success();
    expect(breaker.view().state).toBe('closed');
  });

  it('ignores a probe from an earlier half-open window', () => {
    const { breaker } = makeBreaker({ halfOpenRequests: 2 });
    openBreaker(breaker);
    vi.advanceTimersByTime(30_000);
    const [failing, late] = burst(breaker, 2).permits;
    failing?.failure();
    vi.advanceTimersByTime(30_000);
    const { permits } = burst(breaker, 50);
    late?.success();

    expect(permits).toHaveLength(2);
    expect(breaker.acquire().admitted).toBe(false);
    permits[0]?.success();
    expect(breaker.view().state).toBe('half_open');
  });

  it('never rejects in shadow mode', () => {
    const { breaker, transitions } = makeBreaker({ mode: 'shadow' });
    openBreaker(breaker);
    expect(transitions.at(-1)).toEqual({
      from: 'closed',
      to: 'open',
      reason: 'failures',
      failures: 5,
      shadow: true,
    });

    const whileOpen = permit(breaker);
    expect(whileOpen.shadowRejected).toBe(true);
    expect(breaker.view().state).toBe('open');

    vi.advanceTimersByTime(30_000);
    const { permits, rejections } = burst(breaker, 50);
    expect(rejections).toHaveLength(0);
    expect(permits.filter((p) => !p.shadowRejected)).toHaveLength(1);
  });

  it('does not count shadow-rejected outcomes', () => {
    const { breaker } = makeBreaker({ mode: 'shadow' });
    openBreaker(breaker);
    vi.advanceTimersByTime(30_000);
    const [probe, ...others] = burst(breaker, 5).permits;
    for (const other of others) other.success();
    expect(breaker.view().state).toBe('half_open');

    probe?.failure();
    expect(breaker.view().state).toBe('open');
  });

  it('forces open until a time', () => {
    const { breaker, transitions } = makeBreaker();
    breaker.force('forced_open', START + 600_000);
    expect(transitions.at(-1)).toEqual({
      from: 'closed',
      to: 'open',
      reason: 'forced_open',
      shadow: false,
    });
    vi.advanceTimersByTime(100_000);

    expect(breaker.acquire()).toEqual({ admitted: false, state: 'open', retryAfterMs: 500_000 });
    expect(breaker.view()).toEqual({
      state: 'open',
      mode: 'forced_open',
      failures: 0,
      openedAt: START,
      retryAt: START + 600_000,
      overrideUntil: START + 600_000,
    });
  });

  it('forces open until reset', () => {
    const { breaker } = makeBreaker();
    breaker.force('forced_open');
    vi.advanceTimersByTime(24 * 3_600_000);

    expect(breaker.acquire()).toEqual({ admitted: false, state: 'open', retryAfterMs: 30_000 });
    expect(breaker.view()).toMatchObject({
      mode: 'forced_open',
      retryAt: null,
      overrideUntil: null,
    });
  });

  it('probes once forced open expires', () => {
    const { breaker, transitions } = makeBreaker();
    breaker.force('forced_open', START + 60_000);
    vi.advanceTimersByTime(60_000);

    expect(breaker.view()).toMatchObject({ state: 'half_open', mode: 'auto', overrideUntil: null });
    expect(transitions.at(-1)).toEqual({
      from: 'open',
      to: 'half_open',
      reason: 'override_expired',
      shadow: false,
    });
    const probe = permit(breaker);
    expect(breaker.acquire().admitted).toBe(false);
    probe.success();
    expect(breaker.view().state).toBe('closed');
  });

  it('forces closed without counting', () => {
    const { breaker, transitions } = makeBreaker();
    openBreaker(breaker);
    breaker.force('forced_closed', START + 60_000);
    expect(transitions.at(-1)).toEqual({
      from: 'open',
      to: 'closed',
      reason: 'forced_closed',
      shadow: false,
    });

    fail(breaker, 20);
    expect(breaker.view()).toMatchObject({ state: 'closed', mode: 'forced_closed', failures: 0 });
  });

  it('counts again once forced closed expires', () => {
    const { breaker, transitions } = makeBreaker();
    breaker.force('forced_closed', START + 60_000);
    const duringOverride = permit(breaker);
    vi.advanceTimersByTime(60_000);

    expect(breaker.view()).toMatchObject({ state: 'closed', mode: 'auto', overrideUntil: null });
    expect(transitions).toHaveLength(0);
    duringOverride.failure();
    fail(breaker, 4);
    expect(breaker.view().state).toBe('closed');
    fail(breaker, 1);
    expect(breaker.view().state).toBe('open');
  });

  it('resets to closed with an empty window', () => {
    const { breaker, transitions } = makeBreaker();
    openBreaker(breaker);
    breaker.reset();

    expect(breaker.view()).toEqual({
      state: 'closed',
      mode: 'auto',
      failures: 0,
      openedAt: null,
      retryAt: null,
      overrideUntil: null,
    });
    expect(transitions.at(-1)).toEqual({
      from: 'open',
      to: 'closed',
      reason: 'reset',
      shadow: false,
    });
  });

  it('clears an override on reset', () => {
    const { breaker } = makeBreaker();
    breaker.force('forced_open');
    breaker.reset();

    expect(breaker.acquire().admitted).toBe(true);
    expect(breaker.view().mode).toBe('auto');
  });

  it('ignores a probe that outlives a reset', () => {
    const { breaker } = makeBreaker();
    openBreaker(breaker);
    vi.advanceTimersByTime(30_000);
    const probe = permit(breaker);
    breaker.reset();
    probe.failure();

    expect(breaker.view().state).toBe('closed');
  });

  it('expires an override that already ended', () => {
    const { breaker, transitions } = makeBreaker();
    breaker.force('forced_open', START);

    expect(breaker.view()).toMatchObject({ state: 'half_open', mode: 'auto' });
    expect(transitions.map((t) => t.reason)).toEqual(['forced_open', 'override_expired']);
  });

  it('rejects an override end that is not finite', () => {
    const { breaker } = makeBreaker();

    expect(() => breaker.force('forced_open', Number.NaN)).toThrow(
      /untilMs must be a finite time.*NaN/,
    );
    expect(breaker.view().mode).toBe('auto');
  });

  it('rejects an invalid policy', () => {
    expect(() => makeBreaker({ failures: 0 })).toThrow(/breaker.failures .* got 0/);
    expect(() => makeBreaker({ halfOpenRequests: 1.5 })).toThrow(/breaker.halfOpenRequests/);
    expect(() => makeBreaker({ openForMs: -1 })).toThrow(/breaker.openForMs/);
    expect(() => makeBreaker({ windowMs: 0 })).toThrow(/windowMs/);
  });

  it('reads an injected clock', () => {
    let nowMs = 0;
    const breaker = new Breaker(POLICY, { now: () => nowMs });
    openBreaker(breaker);
    nowMs = 29_999;
    expect(breaker.acquire()).toEqual({ admitted: false, state: 'open', retryAfterMs: 1 });

    nowMs = 30_000;
    expect(breaker.acquire().admitted).toBe(true);
  });
});

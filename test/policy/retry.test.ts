import { describe, expect, it } from 'vitest';
import type { RetryPolicy } from '../../agent/config/types.ts';
import type { AttemptOutcome } from '../../agent/policy/outcome.ts';
import { RetryBudget } from '../../agent/policy/budget.ts';
import { decideRetry, type RetryInput } from '../../agent/policy/retry.ts';
import { matcher } from './helpers.ts';

const POLICY: RetryPolicy = {
  retries: 3,
  backoff: { baseMs: 1_000, maxMs: 30_000, jitter: 'full' },
  retryOn: matcher('5xx', 'connect-failure', 'reset', '429'),
  methods: new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']),
  budget: { ratio: 0.2, minPerSecond: 10, windowMs: 10_000 },
};

const status = (code: number): AttemptOutcome => ({ kind: 'response', status: code });
const CONNECT_FAILURE: AttemptOutcome = { kind: 'connect-failure' };

function input(overrides: Partial<RetryInput> = {}): RetryInput {
  return {
    policy: POLICY,
    retriesDone: 0,
    outcome: status(503),
    method: 'GET',
    idempotencyKey: false,
    bodyReplayable: true,
    timeLeftMs: 60_000,
    budget: new RetryBudget(POLICY.budget),
    random: () => 0.5,
    ...overrides,
  };
}

describe('decideRetry', () => {
  it.each<[string, Partial<RetryInput>, string]>([
    ['a 404', { outcome: status(404) }, 'not_retryable'],
    ['a 200', { outcome: status(200) }, 'not_retryable'],
    ['a timeout outside retryOn', { outcome: { kind: 'timeout' } }, 'not_retryable'],
    ['the last retry done', { retriesDone: 3 }, 'exhausted'],
    ['a POST answered 503', { method: 'POST' }, 'method'],
    ['a PATCH reset', { method: 'PATCH', outcome: { kind: 'reset' } }, 'method'],
    ['a lower-case method', { method: 'get' }, 'method'],
    ['a streamed body', { bodyReplayable: false }, 'body_not_replayable'],
    [
      'a streamed body whose connect failed',
      { method: 'POST', outcome: CONNECT_FAILURE, bodyReplayable: false },
      'body_not_replayable',
    ],
    ['a Retry-After beyond maxMs', { retryAfterMs: 7_200_000 }, 'retry_after_too_long'],
    [
      'a Retry-After beyond the deadline',
      { outcome: status(429), retryAfterMs: 20_000, timeLeftMs: 10_000 },
      'retry_after_too_long',
    ],
    ['a backoff past the deadline', { timeLeftMs: 500 }, 'deadline'],
  ])('does not retry %s', (_case, overrides, why) => {
    expect(decideRetry(input(overrides))).toEqual({ retry: false, why });
  });

  it.each<[string, Partial<RetryInput>, number, string]>([
    ['a GET answered 503', {}, 500, '5xx'],
    ['a GET answered 502', { outcome: status(502) }, 500, '5xx'],
    ['a reset', { outcome: { kind: 'reset' } }, 500, 'reset'],
    [
      'a POST whose connect failed',
      { method: 'POST', outcome: CONNECT_FAILURE },
      500,
      'connect_failure',
    ],
    ['a POST with an Idempotency-Key', { method: 'POST', idempotencyKey: true }, 500, '5xx'],
    ['a 429', { outcome: status(429) }, 500, '429'],
    ['the second retry', { retriesDone: 1 }, 1_000, '5xx'],
    ['the last retry', { retriesDone: 2 }, 2_000, '5xx'],
  ])('retries %s', (_case, overrides, delayMs, reason) => {
    expect(decideRetry(input(overrides))).toEqual({ retry: true, delayMs, reason });
  });

  it.each([429, 503])('waits the Retry-After of a %i', (code) => {
    const decision = decideRetry(input({ outcome: status(code), retryAfterMs: 3_000 }));

    expect(decision).toEqual({ retry: true, delayMs: 3_000, reason: code === 429 ? '429' : '5xx' });
  });

  it('ignores Retry-After on other statuses', () => {
    const decision = decideRetry(input({ outcome: status(500), retryAfterMs: 7_200_000 }));

    expect(decision).toEqual({ retry: true, delayMs: 500, reason: '5xx' });
  });

  it('falls back to backoff without a parsed Retry-After', () => {
    const decision = decideRetry(input({ outcome: status(429), retryAfterMs: undefined }));

    expect(decision).toEqual({ retry: true, delayMs: 500, reason: '429' });
  });

  it('accepts a Retry-After equal to maxMs', () => {
    const decision = decideRetry(input({ retryAfterMs: 30_000, timeLeftMs: 30_001 }));

    expect(decision).toEqual({ retry: true, delayMs: 30_000, reason: '5xx' });
  });

  it('leaves time for the attempt after the delay', () => {
    const none = { ...POLICY, backoff: { ...POLICY.backoff, jitter: 'none' as const } };

    expect(decideRetry(input({ policy: none, timeLeftMs: 1_000 }))).toEqual({
      retry: false,
      why: 'deadline',
    });
    expect(decideRetry(input({ policy: none, timeLeftMs: 1_001 }))).toMatchObject({ retry: true });
  });

  it('stops once the budget is spent', () => {
    const budget = new RetryBudget({ ratio: 0, minPerSecond: 1, windowMs: 1_000 });

    expect(decideRetry(input({ budget }))).toMatchObject({ retry: true });
    expect(decideRetry(input({ budget }))).toEqual({ retry: false, why: 'budget' });
  });

  it('spends no budget on a retry refused for another reason', () => {
    const budget = new RetryBudget({ ratio: 0, minPerSecond: 1, windowMs: 1_000 });
    for (const overrides of [
      { method: 'POST' },
      { retriesDone: 3 },
      { outcome: status(404) },
      { bodyReplayable: false },
      { timeLeftMs: 1 },
      { retryAfterMs: 7_200_000 },
    ]) {
      expect(decideRetry(input({ ...overrides, budget }))).toMatchObject({ retry: false });
    }

    expect(decideRetry(input({ budget }))).toMatchObject({ retry: true });
  });

  it('retries nothing with zero retries', () => {
    const policy = { ...POLICY, retries: 0 };

    expect(decideRetry(input({ policy }))).toEqual({ retry: false, why: 'exhausted' });
  });
});

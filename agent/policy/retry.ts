import type { RetryPolicy } from '../config/types.ts';
import { backoffDelay } from './backoff.ts';
import type { RetryBudget } from './budget.ts';
import { attemptResult, matchesOutcome, type AttemptOutcome } from './outcome.ts';

export interface RetryInput {
  readonly policy: RetryPolicy;
  /** Retries already made for this request (0 after the first attempt). */
  readonly retriesDone: number;
  readonly outcome: AttemptOutcome;
  /** The parsed Retry-After delay in milliseconds, read only for 429 and 503 responses. */
  readonly retryAfterMs?: number;
  /** The request method, compared case-sensitively as HTTP defines it. */
  readonly method: string;
  /** Whether the request carries an `Idempotency-Key` header. */
  readonly idempotencyKey: boolean;
  /** Whether the request body can be sent again (buffered, or absent). */
  readonly bodyReplayable: boolean;
  /** Milliseconds left before the request's total deadline. */
  readonly timeLeftMs: number;
  /** The host's budget, consulted only when every other rule allows the retry. */
  readonly budget: RetryBudget;
  readonly random?: () => number;
}

/** The reason no retry is made. */
export type NoRetryReason =
  | 'not_retryable'
  | 'exhausted'
  | 'method'
  | 'body_not_replayable'
  | 'retry_after_too_long'
  | 'deadline'
  | 'budget';

export type RetryDecision =
  | {
      readonly retry: true;
      /** Milliseconds to wait before the next attempt. */
      readonly delayMs: number;
      /** The `reason` label of `fender_retries_total`: the attempt result, or `429`. */
      readonly reason: string;
    }
  | { readonly retry: false; readonly why: NoRetryReason };

/**
 * Decides whether to retry after a failed attempt, and after how long. The
 * rules run in the order of NoRetryReason, so the budget is spent only on a
 * retry that every other rule allows.
 */
export function decideRetry(input: RetryInput): RetryDecision {
  const { policy, outcome } = input;
  if (!matchesOutcome(policy.retryOn, outcome)) return noRetry('not_retryable');
  if (input.retriesDone >= policy.retries) return noRetry('exhausted');
  if (!methodAllowsRetry(input)) return noRetry('method');
  // A body streamed rather than buffered cannot be sent twice. That holds even
  // after a connect failure, because the attempt may have started reading it.
  if (!input.bodyReplayable) return noRetry('body_not_replayable');

  const retryAfterMs = honouredRetryAfter(input);
  if (retryAfterMs !== undefined && !retryAfterFits(retryAfterMs, input)) {
    return noRetry('retry_after_too_long');
  }
  const delayMs = retryAfterMs ?? backoffDelay(input.retriesDone, policy.backoff, input.random);
  // The attempt itself needs time too, so the delay must end before the deadline.
  if (delayMs >= input.timeLeftMs) return noRetry('deadline');
  if (!input.budget.tryAcquire()) return noRetry('budget');

  return { retry: true, delayMs, reason: retryReason(outcome) };
}

// A connect failure sent no byte, so retrying it cannot repeat a side effect.
function methodAllowsRetry(input: RetryInput): boolean {
  if (input.outcome.kind === 'connect-failure') return true;

  return input.idempotencyKey || input.policy.methods.has(input.method);
}

function honouredRetryAfter(input: RetryInput): number | undefined {
  const { outcome } = input;
  const status = outcome.kind === 'response' ? outcome.status : 0;

  return status === 429 || status === 503 ? input.retryAfterMs : undefined;
}

// The server's wait must fit both the backoff cap and the deadline, with time
// left for the attempt itself.
function retryAfterFits(retryAfterMs: number, input: RetryInput): boolean {
  return retryAfterMs <= input.policy.backoff.maxMs && retryAfterMs < input.timeLeftMs;
}

function retryReason(outcome: AttemptOutcome): string {
  if (outcome.kind === 'response' && outcome.status === 429) return '429';

  return attemptResult(outcome);
}

function noRetry(why: NoRetryReason): RetryDecision {
  return { retry: false, why };
}

import type { OutcomeMatcher } from '../config/types.ts';

/** The outcome of one upstream attempt, as the retry and breaker layers classify it. */
export type AttemptOutcome =
  | { readonly kind: 'response'; readonly status: number }
  | { readonly kind: 'connect-failure' }
  | { readonly kind: 'reset' }
  | { readonly kind: 'timeout' };

/** The `result` label of `fender_upstream_attempts_total`. */
export type AttemptResult =
  '1xx' | '2xx' | '3xx' | '4xx' | '5xx' | 'timeout' | 'connect_failure' | 'reset';

const STATUS_CLASSES = ['1xx', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;

export function attemptResult(outcome: AttemptOutcome): AttemptResult {
  switch (outcome.kind) {
    case 'response':
      return STATUS_CLASSES[Math.floor(outcome.status / 100)] ?? '5xx';
    case 'connect-failure':
      return 'connect_failure';
    default:
      return outcome.kind;
  }
}

/** Reports whether `outcome` falls into one of the classes `matcher` names. */
export function matchesOutcome(matcher: OutcomeMatcher, outcome: AttemptOutcome): boolean {
  switch (outcome.kind) {
    case 'response': {
      const status = outcome.status;
      if (matcher.statuses.has(status)) return true;
      if (matcher.any5xx && status >= 500 && status <= 599) return true;

      return matcher.gatewayError && (status === 502 || status === 503 || status === 504);
    }
    case 'connect-failure':
      return matcher.connectFailure;
    case 'reset':
      return matcher.reset;
    case 'timeout':
      return matcher.timeout;
  }
}

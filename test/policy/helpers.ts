import type { OutcomeMatcher } from '../../agent/config/types.ts';

/** Builds an OutcomeMatcher from `retryOn`/`failOn` class names, as the config loader would. */
export function matcher(...classes: string[]): OutcomeMatcher {
  const statuses = new Set<number>();
  for (const name of classes) {
    if (/^\d{3}$/.test(name)) statuses.add(Number(name));
  }

  return {
    any5xx: classes.includes('5xx'),
    gatewayError: classes.includes('gateway-error'),
    connectFailure: classes.includes('connect-failure'),
    reset: classes.includes('reset'),
    timeout: classes.includes('timeout'),
    statuses,
  };
}

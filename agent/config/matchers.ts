import type { OutcomeMatcher } from './types.ts';

import { didYouMean } from './hint.ts';
import { joinOr } from './problems.ts';

/** The outcome classes `retryOn` and `failOn` may name besides single status codes. */
export const OUTCOME_CLASSES = [
  '5xx',
  'gateway-error',
  'connect-failure',
  'reset',
  'timeout',
] as const;

/** A `retryOn`/`failOn` entry: a class name, or a status code as a number or a string. */
export type OutcomeEntry = string | number;

const STATUS_PATTERN = /^[1-5]\d\d$/;

/** Returns why `entry` is not an outcome class or status code, or undefined when it is one. */
export function outcomeEntryProblem(entry: unknown): string | undefined {
  if (typeof entry === 'number' && Number.isInteger(entry) && entry >= 100 && entry <= 599) {
    return undefined;
  }
  if (typeof entry === 'string' && (isOutcomeClass(entry) || STATUS_PATTERN.test(entry))) {
    return undefined;
  }

  const hint = typeof entry === 'string' ? didYouMean(entry, OUTCOME_CLASSES) : '';
  const expected = joinOr([...OUTCOME_CLASSES, 'a status code from 100 to 599']);

  return `expected ${expected}, got ${JSON.stringify(entry)}${hint}`;
}

/** Compiles validated `retryOn`/`failOn` entries into the matcher the policies read. */
export function compileMatcher(entries: readonly OutcomeEntry[]): OutcomeMatcher {
  const names = new Set(entries.map(String));
  const statuses = new Set<number>();
  for (const name of names) {
    if (STATUS_PATTERN.test(name)) statuses.add(Number(name));
  }

  return {
    any5xx: names.has('5xx'),
    gatewayError: names.has('gateway-error'),
    connectFailure: names.has('connect-failure'),
    reset: names.has('reset'),
    timeout: names.has('timeout'),
    statuses,
  };
}

function isOutcomeClass(entry: string): boolean {
  return (OUTCOME_CLASSES as readonly string[]).includes(entry);
}

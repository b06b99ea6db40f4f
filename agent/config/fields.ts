// The leaf schemas of the config file, each with the message users see when a
// value is wrong: what was expected, and the value that was found.
import { isIP } from 'node:net';

import { z } from 'zod';

import { didYouMean } from './hint.ts';
import { outcomeEntryProblem, type OutcomeEntry } from './matchers.ts';
import { describeValue } from './problems.ts';
import { formatDuration, parseDuration, parseSize } from './units.ts';

/** The maximum timer duration: Node runs a setTimeout over 2^31-1 ms (24.8 days) after 1 ms. */
export const MAX_TIMER_MS = 24 * 86_400_000;
/** The maximum TTL; TTLs are compared with timestamps, not timers. */
export const MAX_TTL_MS = 365 * 86_400_000;

/**
 * Returns a mapping schema that rejects unknown keys, like zod's strictObject.
 * It reports each unknown key at its own path with a near-miss hint, where
 * strictObject reports them together on the parent without the valid keys.
 */
export function strict<T extends z.core.$ZodLooseShape>(shape: T) {
  const known = Object.keys(shape);
  const unknownKey = z.custom(() => false, {
    error: (issue) => {
      const key = String(issue.path?.at(-1) ?? '');
      const hint = didYouMean(key, known);

      return hint === ''
        ? `unknown key; valid keys here: ${known.join(', ')}`
        : `unknown key${hint}`;
    },
  });

  // The cast restores strictObject's output type, which the catchall would widen
  // with an index signature although no extra key ever passes.
  return z.object(shape).catchall(unknownKey) as unknown as ReturnType<typeof z.strictObject<T>>;
}

/** Returns a schema for a whole number from `min` to `max`. */
export function wholeNumber(min: number, max: number, note = '') {
  const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
  const error = (issue: { input?: unknown }) =>
    `expected a whole number ${range}${note}, got ${describeValue(issue.input)}`;

  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

/** Returns a schema for a count: a whole number of at least 1. */
export function count() {
  return wholeNumber(1, Number.MAX_SAFE_INTEGER);
}

/** Returns a schema for a TCP port. Port 0 lets the system pick a free one, for tests. */
export function port() {
  return wholeNumber(0, 65535, ' (0 picks a free port)');
}

/** Returns a schema for a number from `min` to `max`, fractions allowed. */
export function decimal(min: number, max = Infinity) {
  const range = max === Infinity ? `of at least ${min}` : `from ${min} to ${max}`;
  const error = (issue: { input?: unknown }) =>
    `expected a number ${range}, got ${describeValue(issue.input)}`;

  return z.number({ error }).min(min, { error }).max(max, { error });
}

export interface DurationBounds {
  /** False when 0 means nothing sensible, as for timeouts. */
  readonly allowZero: boolean;
  readonly maxMs?: number;
}

/** Returns a schema for a duration (`5s`), kept as written and converted when resolved. */
export function duration(bounds: DurationBounds) {
  const check = (value: unknown) => durationProblem(value, bounds);

  return z.custom<string | number>((value) => check(value) === undefined, {
    error: (issue) => check(issue.input),
  });
}

function durationProblem(value: unknown, bounds: DurationBounds): string | undefined {
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch (error) {
    return (error as RangeError).message;
  }

  const maxMs = bounds.maxMs ?? MAX_TIMER_MS;
  if (ms === 0 && !bounds.allowZero) {
    return `expected a duration greater than 0 (250ms, 5s, 1m), got ${describeValue(value)}`;
  }
  if (ms > maxMs) {
    return `expected a duration of at most ${formatDuration(maxMs)}, got ${describeValue(value)}`;
  }

  return undefined;
}

/** Returns a schema for a size of at least 1 byte (`64MiB`, `1048576`), kept as written. */
export function size() {
  const check = (value: unknown): string | undefined => {
    try {
      if (parseSize(value) > 0) return undefined;
    } catch (error) {
      return (error as RangeError).message;
    }

    return `expected a size of at least 1 byte, got ${describeValue(value)}`;
  };

  return z.custom<string | number>((value) => check(value) === undefined, {
    error: (issue) => check(issue.input),
  });
}

/** Returns a schema for one `retryOn`/`failOn` entry: an outcome class or a status code. */
export function outcomeEntry() {
  return z.custom<OutcomeEntry>((value) => outcomeEntryProblem(value) === undefined, {
    error: (issue) => outcomeEntryProblem(issue.input),
  });
}

// RFC 9110 token: the syntax of method and header names.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Returns a schema for an HTTP method name, which it upper-cases. */
export function method() {
  return token('an HTTP method name (GET, POST, …)').transform((name) => name.toUpperCase());
}

/** Returns a schema for an HTTP header name, which it lower-cases. */
export function headerName() {
  return token('an HTTP header name (x-api-key)').transform((name) => name.toLowerCase());
}

function token(form: string) {
  const error = (issue: { input?: unknown }) =>
    `expected ${form}, got ${describeValue(issue.input)}`;

  return z.string({ error }).regex(TOKEN, { error });
}

/** Returns a schema for a file path, resolved later against the config file's directory. */
export function filePath() {
  const error = (issue: { input?: unknown }) =>
    `expected a file path, got ${describeValue(issue.input)}`;

  return z.string({ error }).min(1, { error });
}

const HOST_NAME = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i;

/** Returns a schema for a bind address: an IP address or a host name such as `localhost`. */
export function bindHost() {
  const problem = (value: unknown): string | undefined => {
    if (typeof value === 'string' && value.startsWith('[')) {
      return `write IPv6 addresses without brackets, got ${JSON.stringify(value)}`;
    }
    if (typeof value === 'string' && (isIP(value) !== 0 || HOST_NAME.test(value))) return undefined;

    return `expected an IP address or host name, got ${describeValue(value)}`;
  };

  return z.custom<string>((value) => problem(value) === undefined, {
    error: (issue) => problem(issue.input),
  });
}

/** Returns a schema for an absolute URL path (`/v1/countries`) without query or fragment. */
export function urlPath() {
  const form = 'a URL path starting with / (without query or fragment)';
  const error = (issue: { input?: unknown }) =>
    `expected ${form}, got ${describeValue(issue.input)}`;

  return z.string({ error }).regex(/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/, { error });
}

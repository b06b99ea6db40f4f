import { parseDuration } from '../config/units.ts';
import { FenderError } from './errors.ts';

/**
 * Reads `x-fender-timeout` (`2s`, `250ms`): the time the caller has left.
 * It may shorten a host's `total`, never lengthen it; the caller applies the
 * minimum. Returns undefined when the header is absent.
 */
export function parseDeadlineHeader(value: string | string[] | undefined): number | undefined {
  if (value === undefined) return undefined;

  const text = Array.isArray(value) ? value[0] : value;
  try {
    const ms = parseDuration(text ?? '');
    if (ms > 0) return ms;
  } catch {
    // Reported below with the header's own name.
  }
  throw new FenderError(
    'bad_request',
    `invalid x-fender-timeout ${JSON.stringify(text)}: expected a positive duration such as 2s or 250ms`,
  );
}

/** Formats the time left for the `x-fender-timeout` header sent upstream. */
export function formatDeadlineHeader(ms: number): string {
  return `${Math.max(1, Math.floor(ms))}ms`;
}

import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../../agent/policy/retry-after.ts';

// Sun, 06 Nov 1994 08:49:37 GMT, the example date of RFC 9110.
const DATE_MS = Date.UTC(1994, 10, 6, 8, 49, 37);
const NOW = DATE_MS - 3_000;

describe('parseRetryAfter', () => {
  it.each([
    ['3', 3_000],
    ['0', 0],
    [' 3 ', 3_000],
    ['\t120', 120_000],
    ['7200', 7_200_000],
  ])('reads delta-seconds %j', (value, expected) => {
    expect(parseRetryAfter(value, NOW)).toBe(expected);
  });

  it.each([
    ['IMF-fixdate', 'Sun, 06 Nov 1994 08:49:37 GMT'],
    ['RFC 850', 'Sunday, 06-Nov-94 08:49:37 GMT'],
    ['asctime', 'Sun Nov  6 08:49:37 1994'],
    ['padded IMF-fixdate', '  Sun, 06 Nov 1994 08:49:37 GMT '],
  ])('reads an %s date', (_form, value) => {
    expect(parseRetryAfter(value, NOW)).toBe(3_000);
  });

  it('reads asctime as UTC', () => {
    expect(parseRetryAfter('Sun Nov 16 08:49:37 1994', DATE_MS)).toBe(10 * 86_400_000);
  });

  it('returns 0 for a date in the past', () => {
    expect(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', DATE_MS + 60_000)).toBe(0);
  });

  it.each([
    '',
    '   ',
    '-1',
    '1.5',
    '3s',
    '1e3',
    'soon',
    '0x10',
    'Sun, 06 Nov 1994',
    'Sun, 06 Nov 1994 08:49:37 PST',
    'Sun, 06 Nov 1994 25:49:37 GMT',
    '2024-01-01T00:00:00Z',
  ])('ignores unparsable %j', (value) => {
    expect(parseRetryAfter(value, NOW)).toBeUndefined();
  });

  it('returns undefined without a header', () => {
    expect(parseRetryAfter(undefined, NOW)).toBeUndefined();
    expect(parseRetryAfter([], NOW)).toBeUndefined();
  });

  it('reads the first of several values', () => {
    expect(parseRetryAfter(['5', '60'], NOW)).toBe(5_000);
  });

  it('caps a huge delta at the largest safe integer', () => {
    expect(parseRetryAfter('9'.repeat(400), NOW)).toBe(Number.MAX_SAFE_INTEGER);
  });
});

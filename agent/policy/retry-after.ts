// Parses the Retry-After response header (RFC 9110, section 10.2.3): either
// delta-seconds or an HTTP-date. The date forms are matched by pattern before
// Date.parse, because Date.parse also accepts many strings that are not
// HTTP-dates ("1.5", "-1", "2024") and would turn garbage into a delay.

const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const LONG_DAY = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTH = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const TIME = '\\d{2}:\\d{2}:\\d{2}';

const DELTA_SECONDS = /^\d+$/;
// Sun, 06 Nov 1994 08:49:37 GMT
const IMF_FIXDATE = new RegExp(`^${DAY}, \\d{2} ${MONTH} \\d{4} ${TIME} GMT$`);
// Sunday, 06-Nov-94 08:49:37 GMT (obsolete; Node 24's Date.parse reads years 50-99 as 19xx
// and 00-49 as 20xx)
const RFC850_DATE = new RegExp(`^${LONG_DAY}, \\d{2}-${MONTH}-\\d{2} ${TIME} GMT$`);
// Sun Nov  6 08:49:37 1994 (obsolete; always UTC, though it carries no zone)
const ASCTIME_DATE = new RegExp(`^${DAY} ${MONTH} (?: \\d|\\d{2}) ${TIME} \\d{4}$`);

/**
 * Returns the delay in milliseconds that a Retry-After value requests: 0 for
 * a date in the past, undefined when the value is missing or unparsable.
 * Of several header values only the first is read.
 */
export function parseRetryAfter(
  value: string | string[] | undefined,
  nowMs: number,
): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return undefined;

  if (DELTA_SECONDS.test(text)) return Math.min(Number(text) * 1000, Number.MAX_SAFE_INTEGER);

  const dateMs = parseHttpDate(text);
  if (dateMs === undefined) return undefined;

  return Math.max(0, dateMs - nowMs);
}

// NOTE: Date.parse rolls an impossible day into the next month (30 Feb is 1 Mar).
function parseHttpDate(text: string): number | undefined {
  let dateMs = NaN;
  if (IMF_FIXDATE.test(text) || RFC850_DATE.test(text)) dateMs = Date.parse(text);
  // Without a zone Date.parse would read asctime as local time.
  else if (ASCTIME_DATE.test(text)) dateMs = Date.parse(`${text} GMT`);

  return Number.isNaN(dateMs) ? undefined : dateMs;
}

// Cache-Control parsing (RFC 9111 section 5.2). Hand-written because none of
// the installed packages parses the header, and the one well-known library
// for it (http-cache-semantics) also applies browser-cache defaults, such as
// heuristic freshness, that Fender's cache must not use.

/** Directive names, lower-cased, mapped to their argument, or to `true` when there is none. */
export type Directives = ReadonlyMap<string, string | true>;

const EMPTY: Directives = new Map();

/** Largest delta-seconds value a cache must honour; larger ones are read as this (RFC 9111 section 1.2.2). */
const MAX_DELTA_SECONDS = 2 ** 31;

/** Splits on commas outside quoted strings, so `no-cache="a, b"` stays one directive. */
function splitDirectives(value: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const char = value[i];
    if (char === '"' && value[i - 1] !== '\\') quoted = !quoted;
    else if (char === ',' && !quoted) {
      parts.push(value.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(value.slice(start));

  return parts;
}

function unquote(argument: string): string {
  if (argument.length >= 2 && argument.startsWith('"') && argument.endsWith('"')) {
    return argument.slice(1, -1).replace(/\\(.)/g, '$1');
  }

  return argument;
}

/**
 * Parses one or more Cache-Control field lines. When a directive repeats,
 * the first occurrence wins, as RFC 9111 section 4.2.1 allows.
 */
export function parseCacheControl(value: string | readonly string[] | undefined): Directives {
  if (value === undefined) return EMPTY;

  const lines = typeof value === 'string' ? [value] : value;
  const directives = new Map<string, string | true>();
  for (const line of lines) {
    for (const part of splitDirectives(line)) {
      const equals = part.indexOf('=');
      const name = (equals === -1 ? part : part.slice(0, equals)).trim().toLowerCase();
      if (name === '' || directives.has(name)) continue;

      directives.set(name, equals === -1 ? true : unquote(part.slice(equals + 1).trim()));
    }
  }

  return directives;
}

/**
 * Reads a delta-seconds directive (`max-age`, `s-maxage`) in seconds.
 * Returns undefined when absent. A present but invalid value reads as 0,
 * which makes the response stale at once: the safe reading of a directive
 * the upstream meant as a limit.
 */
export function deltaSeconds(directives: Directives, name: string): number | undefined {
  const argument = directives.get(name);
  if (argument === undefined) return undefined;
  if (argument === true || !/^\d+$/.test(argument)) return 0;

  return Math.min(Number(argument), MAX_DELTA_SECONDS);
}

// The three HTTP-date forms of RFC 9110 section 5.6.7: IMF-fixdate, and the
// obsolete RFC 850 and asctime forms.
const HTTP_DATE = [
  /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/,
  /^[A-Z][a-z]+, \d{2}-[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}:\d{2} GMT$/,
  /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/,
];

/**
 * Parses an HTTP-date into ms since epoch; returns NaN for anything else.
 * Date.parse alone is too lenient: it reads `0` as the year 2000.
 */
export function parseHttpDate(value: string | undefined): number {
  if (value === undefined) return NaN;

  const trimmed = value.trim();

  return HTTP_DATE.some((form) => form.test(trimmed)) ? Date.parse(trimmed) : NaN;
}

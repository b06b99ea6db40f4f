// Cache keys. A lookup takes two steps, as in RFC 9111 section 4.1. The
// primary key is built from the host key and its policy hash, the upstream
// origin, the path and full query, and in private mode a keyed hash of the
// credential. It leads to the stored variants. Each variant records the
// request header names its response listed in `Vary` and the request's
// values for them. The primary key ignores the method, so a HEAD request
// finds the entry a GET stored.

/** Request header values by lower-case name; repeated field lines are joined into one value. */
export type RequestHeaders = ReadonlyMap<string, string>;

/**
 * Collects Node's raw request headers (`[name, value, name, value, ...]`)
 * into one value per name. Node's `req.headers` drops repeated
 * `Authorization` lines, but the raw list goes upstream whole, so the
 * cache must see every line too.
 */
export function collectHeaders(raw: readonly string[]): RequestHeaders {
  const headers = new Map<string, string>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    const value = raw[i + 1] as string;
    const previous = headers.get(name);
    // Cookie field lines are joined with "; " (RFC 6265 section 5.4), all others with ", ".
    const separator = name === 'cookie' ? '; ' : ', ';
    headers.set(name, previous === undefined ? value : previous + separator + value);
  }

  return headers;
}

/**
 * Returns the request's credential (its `Authorization` and `Cookie`
 * values, unambiguously combined), or undefined when it carries neither.
 */
export function credentialOf(headers: RequestHeaders): string | undefined {
  const authorization = headers.get('authorization');
  const cookie = headers.get('cookie');
  if (authorization === undefined && cookie === undefined) return undefined;

  return JSON.stringify([authorization ?? null, cookie ?? null]);
}

/** The resource an entry belongs to: the fields every key and index is built from. */
export interface ResourceId {
  /** The configured host key, so each key's entries follow that key's policy. */
  readonly hostKey: string;
  /** The hash of that key's policy, so entries made under another policy are never found. */
  readonly policyHash: string;
  /** The concrete upstream origin (`https://a.example.com`). */
  readonly origin: string;
  /** Path and full query string, as sent upstream. */
  readonly pathAndQuery: string;
  /** Path without the query. */
  readonly path: string;
}

// JSON arrays keep the parts apart whatever characters they contain.

/** Returns the primary key; `credentialTag` is the keyed hash of the credential in private mode. */
export function primaryKey(resource: ResourceId, credentialTag: string | undefined): string {
  const { hostKey, policyHash, origin, pathAndQuery } = resource;

  return JSON.stringify([hostKey, policyHash, origin, pathAndQuery, credentialTag ?? '']);
}

/** Returns the key of every entry of one path, whatever its query, variant or credential. */
export function pathKey(hostKey: string, origin: string, path: string): string {
  return JSON.stringify([hostKey, origin, path]);
}

/** Returns the key of one variant under `primary`. */
export function variantKey(
  primary: string,
  varyNames: readonly string[],
  valuesDigest: string,
): string {
  return `${primary}\n${varyNames.join(',')}\n${valuesDigest}`;
}

export type ParsedVary =
  | { readonly any: true }
  /** Lower-case, deduplicated and sorted, so `Vary` lists in any order give the same variant. */
  | { readonly any: false; readonly names: readonly string[] };

/** Parses the response's `Vary` field lines; `*` anywhere means the response varies on anything. */
export function parseVary(value: string | readonly string[] | undefined): ParsedVary {
  if (value === undefined) return { any: false, names: [] };

  const names = new Set<string>();
  for (const line of typeof value === 'string' ? [value] : value) {
    for (const token of line.split(',')) {
      const name = token.trim().toLowerCase();
      if (name === '*') return { any: true };
      if (name !== '') names.add(name);
    }
  }

  return { any: false, names: [...names].sort() };
}

/**
 * Returns the request's values for `names`, as JSON: an absent header is
 * `null`, distinct from an empty one. Values are only trimmed, never
 * rewritten further, so two requests match only when their headers are
 * the same.
 */
export function varyValues(headers: RequestHeaders, names: readonly string[]): string {
  return JSON.stringify(names.map((name) => headers.get(name)?.trim() ?? null));
}

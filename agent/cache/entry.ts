import type { Sealed } from './crypto.ts';

/** Response headers as stored: lower-case names, the shape `res.writeHead` takes. */
export type StoredHeaders = Readonly<Record<string, string | readonly string[]>>;

/** A response as the cache stores and returns it. */
export interface StoredResponse {
  readonly status: number;
  readonly headers: StoredHeaders;
  readonly body: Buffer;
}

/** An entry's headers and body: in clear, or encrypted for one credential in private mode. */
export type EntryPayload =
  | { readonly kind: 'clear'; readonly headers: StoredHeaders; readonly body: Buffer }
  | { readonly kind: 'sealed'; readonly sealed: Sealed };

/** One stored response variant. Times are milliseconds. */
export interface CacheEntry {
  /** The variant key: primary key, `Vary` names and the digest of the request's values for them. */
  readonly key: string;
  readonly primaryKey: string;
  /** Shared by every entry of one path, for invalidation. */
  readonly pathKey: string;
  readonly hostKey: string;
  /** The hash of the host key's policy when the entry was stored. */
  readonly policyHash: string;
  /** The concrete host the application addressed. */
  readonly host: string;
  /** Path without the query, for purges by prefix. */
  readonly path: string;
  readonly varyNames: readonly string[];
  /** The request's values for `varyNames`: JSON in clear, or a keyed hash in private mode. */
  readonly varyDigest: string;
  readonly status: number;
  readonly payload: EntryPayload;
  /** When the response arrived (the clock's time). */
  readonly storedAt: number;
  /** The response's age when it arrived: the upstream's `Age` plus the time the request took. */
  readonly initialAgeMs: number;
  /** Freshness lifetime: fresh while the current age is below it. */
  readonly lifetimeMs: number;
  /** How long past `lifetimeMs` the entry may still be served as STALE when the upstream fails. */
  readonly staleIfErrorMs: number;
  /** Accounted size (see entryBytes). */
  readonly bytes: number;
}

/**
 * Bytes charged per entry beyond its payload and key strings, for the entry
 * object, its slots in the LRU map and the index maps and sets. NOTE: an
 * estimate for V8 on 64-bit Node 24: 20,000 small entries grew the heap by
 * about 1,200 bytes each, of which about 400 are payload and key bytes.
 * test/cache/store-memory.test.ts checks that heap growth stays within the
 * accounted bytes.
 */
export const ENTRY_OVERHEAD_BYTES = 1024;

export function headerBytes(headers: StoredHeaders): number {
  let size = 0;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    const values: readonly string[] = typeof value === 'string' ? [value] : value;
    for (const item of values) size += Buffer.byteLength(name) + Buffer.byteLength(item);
  }

  return size;
}

/**
 * Returns an entry's accounted size: payload bytes (body and headers, or the
 * sealed form of both), the key strings it holds, and ENTRY_OVERHEAD_BYTES.
 * Key strings count twice because V8 may hold them as two-byte strings.
 */
export function entryBytes(
  payload: EntryPayload,
  keys: {
    readonly key: string;
    readonly primaryKey: string;
    readonly pathKey: string;
    readonly varyDigest: string;
  },
): number {
  const payloadBytes =
    payload.kind === 'clear'
      ? payload.body.length + headerBytes(payload.headers)
      : payload.sealed.length;
  const keyChars =
    keys.key.length + keys.primaryKey.length + keys.pathKey.length + keys.varyDigest.length;

  return payloadBytes + 2 * keyChars + ENTRY_OVERHEAD_BYTES;
}

/** Returns the entry's current age in milliseconds at `now`. */
export function currentAgeMs(entry: CacheEntry, now: number): number {
  return entry.initialAgeMs + Math.max(0, now - entry.storedAt);
}

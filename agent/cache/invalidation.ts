import { LRUMap } from 'mnemonist';

// Invalidation by writes (RFC 9111 section 4.4): a 2xx or 3xx response to an
// unsafe method means the resource changed, so the cache drops every entry
// of its path and of the same-host URLs in Location and Content-Location.

export const WRITE_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Reports whether a response to `method` invalidates the cache entries of its resource. */
export function invalidatesEntries(method: string, status: number): boolean {
  return WRITE_METHODS.has(method) && status >= 200 && status < 400;
}

export interface WriteTarget {
  /** The upstream origin (`https://api.example.com`). */
  readonly origin: string;
  /** The concrete host the application addressed (`api.example.com`). */
  readonly host: string;
  /** Path and query sent upstream, the base for relative URLs. */
  readonly pathAndQuery: string;
  readonly path: string;
}

/**
 * Returns the paths whose entries a write response invalidates: the
 * request's own path, and the paths of `Location` and `Content-Location`
 * when they resolve to the upstream origin or to the host the application
 * addressed. URLs of other hosts are ignored, so that one upstream cannot
 * clear another's entries.
 */
export function invalidatedPaths(
  target: WriteTarget,
  headers: Readonly<Record<string, string | readonly string[] | undefined>>,
): string[] {
  const paths = new Set([target.path]);
  const base = target.origin + target.pathAndQuery;
  for (const name of ['location', 'content-location']) {
    const value = headers[name];
    const location = typeof value === 'string' ? value : value?.[0];
    if (location === undefined) continue;

    const url = URL.parse(location, base);
    if (url === null) continue;
    if (url.origin === target.origin || url.host === target.host) paths.add(url.pathname);
  }

  return [...paths];
}

/**
 * Paths written recently, so that a fetch that started before a write does
 * not store the response it got afterwards, which may predate the write.
 * A fetch records `now()` when it starts and checks `writtenSince` before
 * storing. Bounded: when a path leaves the LRU map its sequence number
 * becomes the floor, so a forgotten path reads as written at the floor.
 * That can only make a fetch skip storing, never keep a stale response.
 */
export class WriteLog {
  #sequence = 0;
  #floor = 0;
  readonly #paths: LRUMap<string, number>;

  /** `capacity` is the number of paths remembered individually. */
  constructor(capacity = 4096) {
    this.#paths = new LRUMap(capacity);
  }

  /** Returns the current sequence number, for a later `writtenSince` check. */
  now(): number {
    return this.#sequence;
  }

  record(pathKey: string): void {
    this.#sequence++;
    const evicted = this.#paths.setpop(pathKey, this.#sequence);
    if (evicted !== null && evicted.evicted) this.#floor = Math.max(this.#floor, evicted.value);
  }

  /** Records a write to every path, for a purge of unknown scope. */
  recordAll(): void {
    this.#sequence++;
    this.#floor = this.#sequence;
  }

  writtenSince(pathKey: string, since: number): boolean {
    return Math.max(this.#paths.peek(pathKey) ?? 0, this.#floor) > since;
  }
}

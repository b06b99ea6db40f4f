import { LRUMapWithDelete } from 'mnemonist';
import type { CacheEntry } from './entry.ts';

// The entry store: mnemonist's LRU map keeps recency and the entry-count
// bound, and the store adds byte accounting on top, so that maxEntries,
// maxBytes and maxEntryBytes hold after every call. Secondary indexes (by
// primary key, path, host key and concrete host) find the entries of one
// resource without scanning the whole cache. They contain only keys of
// entries in the LRU map, so they are bounded with it.

export interface StoreLimits {
  readonly maxEntries: number;
  readonly maxBytes: number;
  /** Largest accounted size (see entryBytes) of one entry. */
  readonly maxEntryBytes: number;
}

export interface StoreOptions {
  /** Called with the number of entries evicted for space by one call, when it is above 0. */
  readonly onEvict?: (count: number) => void;
}

/** Variants kept per primary key; the oldest goes first. It bounds the scan a lookup makes. */
export const MAX_VARIANTS = 32;

export interface PurgeFilter {
  /** A configured host key (`*.example.com`) or a concrete host (`a.example.com`). */
  readonly host?: string;
  /** Path prefix (`/v1/users`); matches every path that starts with it. */
  readonly prefix?: string;
}

type Index = Map<string, Set<string>>;

function addToIndex(index: Index, indexKey: string, key: string): void {
  let keys = index.get(indexKey);
  if (keys === undefined) {
    keys = new Set();
    index.set(indexKey, keys);
  }
  keys.add(key);
}

function removeFromIndex(index: Index, indexKey: string, key: string): void {
  const keys = index.get(indexKey);
  if (keys === undefined) return;

  keys.delete(key);
  if (keys.size === 0) index.delete(indexKey);
}

/** mnemonist exposes no accessor for the least recently used key, so this reads its list tail. */
interface LruInternals {
  readonly tail: number;
  readonly K: ArrayLike<string>;
}

export class CacheStore {
  #limits: StoreLimits;
  #lru: LRUMapWithDelete<string, CacheEntry>;
  #bytes = 0;
  readonly #byPrimary: Index = new Map();
  readonly #byPath: Index = new Map();
  readonly #byHostKey: Index = new Map();
  readonly #byHost: Index = new Map();
  readonly #onEvict: (count: number) => void;

  constructor(limits: StoreLimits, options: StoreOptions = {}) {
    validateLimits(limits);
    this.#limits = limits;
    this.#lru = new LRUMapWithDelete(limits.maxEntries);
    this.#onEvict = options.onEvict ?? (() => {});
  }

  get size(): number {
    return this.#lru.size;
  }

  /** Accounted bytes of every entry held. */
  get bytes(): number {
    return this.#bytes;
  }

  get limits(): StoreLimits {
    return this.#limits;
  }

  /** Reports whether an entry of `bytes` accounted bytes may be stored at all. */
  fits(bytes: number): boolean {
    return bytes <= this.#limits.maxEntryBytes && bytes <= this.#limits.maxBytes;
  }

  /**
   * Stores `entry`, replacing the entry of the same key, and evicts least
   * recently used entries until both limits hold. Returns false, storing
   * nothing, when the entry alone is over the limits.
   */
  set(entry: CacheEntry): boolean {
    const evicted = this.#insert(entry);
    if (evicted > 0) this.#onEvict(evicted);

    return evicted >= 0;
  }

  /** Returns the entry and marks it most recently used. */
  get(key: string): CacheEntry | undefined {
    return this.#lru.get(key);
  }

  /** Returns the entry without changing its recency. */
  peek(key: string): CacheEntry | undefined {
    return this.#lru.peek(key);
  }

  /** Returns the stored variants of a primary key, without changing their recency. */
  variants(primaryKey: string): CacheEntry[] {
    const keys = this.#byPrimary.get(primaryKey);
    if (keys === undefined) return [];

    const entries: CacheEntry[] = [];
    for (const key of keys) {
      const entry = this.#lru.peek(key);
      if (entry !== undefined) entries.push(entry);
    }

    return entries;
  }

  delete(key: string): boolean {
    const entry = this.#lru.peek(key);
    if (entry === undefined) return false;

    this.#lru.delete(key);
    this.#bytes -= entry.bytes;
    this.#unindex(entry);

    return true;
  }

  /** Removes every entry of one path (all queries, variants and credentials); returns how many went. */
  deletePath(pathKey: string): number {
    return this.#deleteAll(this.#byPath.get(pathKey));
  }

  /** Removes every entry for which `predicate` is true; scans the whole store. Returns how many went. */
  deleteWhere(predicate: (entry: CacheEntry) => boolean): number {
    const matching: string[] = [];
    for (const [key, entry] of this.#lru.entries()) if (predicate(entry)) matching.push(key);

    return this.#deleteAll(matching);
  }

  /**
   * Removes the entries that match every given field of `filter`; an empty
   * filter clears the store. A purge by prefix alone scans every entry,
   * which is fine for an operator's command but not for the request path.
   */
  purge(filter: PurgeFilter): number {
    const { host, prefix } = filter;
    if (host === undefined && prefix === undefined) return this.clear();

    const candidates =
      host === undefined
        ? [...this.#lru.keys()]
        : [...(this.#byHostKey.get(host) ?? []), ...(this.#byHost.get(host) ?? [])];
    const matching = candidates.filter((key) => {
      const entry = this.#lru.peek(key);

      return entry !== undefined && (prefix === undefined || entry.path.startsWith(prefix));
    });

    return this.#deleteAll(matching);
  }

  /** Removes every entry; returns how many went. */
  clear(): number {
    const count = this.#lru.size;
    this.#lru.clear();
    this.#bytes = 0;
    for (const index of [this.#byPrimary, this.#byPath, this.#byHostKey, this.#byHost]) {
      index.clear();
    }

    return count;
  }

  /**
   * Applies new limits, keeping the most recently used entries that fit
   * (entries over the new maxEntryBytes are dropped). Evictions are counted.
   */
  resize(limits: StoreLimits): void {
    validateLimits(limits);
    const { maxEntries, maxBytes, maxEntryBytes } = this.#limits;
    const same =
      limits.maxEntries === maxEntries &&
      limits.maxBytes === maxBytes &&
      limits.maxEntryBytes === maxEntryBytes;
    if (same) return;

    // values() runs from most to least recently used; re-adding in reverse keeps the order.
    const entries = [...this.#lru.values()].reverse();
    this.clear();
    this.#limits = limits;
    this.#lru = new LRUMapWithDelete(limits.maxEntries);
    for (const entry of entries) this.#insert(entry);
    const evicted = entries.length - this.#lru.size;
    if (evicted > 0) this.#onEvict(evicted);
  }

  /**
   * Adds `entry` after removing the entry of the same key and evicting what
   * the limits require. Returns how many entries were evicted, or -1 when
   * the entry alone is over the limits and nothing changed.
   */
  #insert(entry: CacheEntry): number {
    if (!this.fits(entry.bytes)) return -1;

    this.delete(entry.key);
    let evicted = this.#dropExcessVariants(entry.primaryKey);
    while (
      this.#lru.size >= this.#limits.maxEntries ||
      this.#bytes + entry.bytes > this.#limits.maxBytes
    ) {
      this.#removeLeastRecent();
      evicted++;
    }
    this.#lru.set(entry.key, entry);
    this.#bytes += entry.bytes;
    this.#index(entry);

    return evicted;
  }

  #deleteAll(keys: Iterable<string> | undefined): number {
    if (keys === undefined) return 0;

    let count = 0;
    // Copied first: delete() edits the index set being iterated.
    for (const key of [...keys]) if (this.delete(key)) count++;

    return count;
  }

  /** Makes room for one more variant of `primaryKey` by dropping its oldest; returns how many went. */
  #dropExcessVariants(primaryKey: string): number {
    const variants = this.variants(primaryKey);
    if (variants.length < MAX_VARIANTS) return 0;

    variants.sort((a, b) => a.storedAt - b.storedAt);
    const excess = variants.slice(0, variants.length - MAX_VARIANTS + 1);
    for (const entry of excess) this.delete(entry.key);

    return excess.length;
  }

  #removeLeastRecent(): void {
    const key = this.#leastRecentKey();
    if (key === undefined || !this.delete(key)) {
      throw new Error(
        `Internal error: cache store accounting is off (${this.#lru.size} entries, ${this.#bytes} bytes)`,
      );
    }
  }

  #leastRecentKey(): string | undefined {
    if (this.#lru.size === 0) return undefined;

    const internals = this.#lru as unknown as LruInternals;
    const key = internals.K[internals.tail];
    if (key !== undefined && this.#lru.has(key)) return key;

    // Not reached with mnemonist 0.40; walks the list if its fields ever change.
    let last: string | undefined;
    for (const candidate of this.#lru.keys()) last = candidate;

    return last;
  }

  #index(entry: CacheEntry): void {
    addToIndex(this.#byPrimary, entry.primaryKey, entry.key);
    addToIndex(this.#byPath, entry.pathKey, entry.key);
    addToIndex(this.#byHostKey, entry.hostKey, entry.key);
    addToIndex(this.#byHost, entry.host, entry.key);
  }

  #unindex(entry: CacheEntry): void {
    removeFromIndex(this.#byPrimary, entry.primaryKey, entry.key);
    removeFromIndex(this.#byPath, entry.pathKey, entry.key);
    removeFromIndex(this.#byHostKey, entry.hostKey, entry.key);
    removeFromIndex(this.#byHost, entry.host, entry.key);
  }
}

function validateLimits(limits: StoreLimits): void {
  for (const name of ['maxEntries', 'maxBytes', 'maxEntryBytes'] as const) {
    const value = limits[name];
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`cache.${name} must be a whole number of at least 1, got ${value}`);
    }
  }
}

import type { HostPolicy, Snapshot } from '../config/types.ts';
import type { CacheStats } from '../control-surface.ts';
import { silentTelemetry, type Telemetry } from '../telemetry/events.ts';
import type { CacheKeyring } from './crypto.ts';
import { currentAgeMs, entryBytes, type CacheEntry, type StoredResponse } from './entry.ts';
import { invalidatedPaths, WriteLog, type WriteTarget } from './invalidation.ts';
import { pathKey, primaryKey, variantKey, varyValues, type RequestHeaders } from './key.ts';
import { decideStorage, planRequest, type BypassReason } from './policy.ts';
import { openPayload, sealPayload } from './payload.ts';
import { CacheStore, type PurgeFilter, type StoreLimits } from './store.ts';
import type { CacheCounters } from './stats.ts';

// The shared response cache: lookups, storage, invalidation and purges over
// one CacheStore. It does no I/O: the cache layer of the proxy
// chain calls it with parsed requests and buffered responses.

/** A request to a host with caching enabled, in the fields the cache reads. */
export interface CacheRequest {
  readonly method: string;
  readonly policy: HostPolicy;
  /** The concrete host the application addressed. */
  readonly host: string;
  /** The concrete upstream origin. */
  readonly origin: string;
  readonly pathAndQuery: string;
  readonly path: string;
  readonly headers: RequestHeaders;
}

/** A request the cache may serve, with its keys computed once. */
export interface Lookup {
  readonly request: CacheRequest;
  readonly credential: string | undefined;
  readonly revalidate: boolean;
  readonly primaryKey: string;
  readonly pathKey: string;
  /** The keyring the keys were made with; undefined for a shared entry. */
  readonly keyring: CacheKeyring | undefined;
  /** WriteLog sequence at planning time: a write after it stops this request from storing. */
  readonly writeMark: number;
}

export type Plan =
  | { readonly kind: 'bypass'; readonly reason: BypassReason }
  | { readonly kind: 'lookup'; readonly lookup: Lookup };

/** A stored response ready to send, with its current age. */
export interface CachedResponse extends StoredResponse {
  readonly ageSeconds: number;
}

export type Found =
  | { readonly kind: 'fresh'; readonly response: CachedResponse }
  /** `stale` is the entry that may still cover an upstream failure, if there is one. */
  | { readonly kind: 'miss'; readonly stale: StaleCandidate | undefined };

/** An expired entry inside its stale-if-error window, checked again when it is served. */
export interface StaleCandidate {
  /** Returns the response, or undefined when the entry has since left the store or its window. */
  serve(): CachedResponse | undefined;
}

export interface ResponseTiming {
  /** When the request went upstream and when the response headers arrived (the clock's time, ms). */
  readonly requestTime: number;
  readonly responseTime: number;
}

export interface CacheOptions {
  readonly telemetry?: Telemetry;
  readonly keyring?: CacheKeyring;
  /** Clock in milliseconds; defaults to `Date.now`. */
  readonly now?: () => number;
}

/** Response headers that describe one delivery, not the stored response, so they are not stored. */
const UNSTORED_HEADERS = new Set(['age', 'x-fender-cache', 'x-fender-attempts', 'x-request-id']);

function storedHeaders(headers: Readonly<Record<string, string | readonly string[] | undefined>>) {
  const kept: Record<string, string | readonly string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !UNSTORED_HEADERS.has(name)) kept[name] = value;
  }

  return kept;
}

export class ResponseCache {
  readonly #store: CacheStore;
  readonly #writes = new WriteLog();
  readonly #telemetry: Telemetry;
  readonly #now: () => number;
  #keyring: CacheKeyring | undefined;

  constructor(limits: StoreLimits, options: CacheOptions = {}) {
    this.#telemetry = options.telemetry ?? silentTelemetry;
    this.#store = new CacheStore(limits, {
      onEvict: (count) => this.#telemetry.cacheEviction(count),
    });
    this.#keyring = options.keyring;
    this.#now = options.now ?? Date.now;
  }

  /** Largest response body worth buffering for storage: a larger one could never be stored. */
  get maxBodyBytes(): number {
    return Math.min(this.#store.limits.maxEntryBytes, this.#store.limits.maxBytes);
  }

  get privateReady(): boolean {
    return this.#keyring !== undefined;
  }

  /** Decides whether `request` is looked up or bypasses the cache; the caller reports the result. */
  plan(request: CacheRequest): Plan {
    const decision = planRequest(
      request.method,
      request.headers,
      request.policy.cache,
      this.privateReady,
    );
    if (decision.kind === 'bypass') return decision;

    const { credential } = decision;
    const keyring = credential === undefined ? undefined : this.#keyring;
    const tag = credential === undefined ? undefined : keyring?.credentialTag(credential);
    const resource = {
      hostKey: request.policy.key,
      policyHash: request.policy.hash,
      origin: request.origin,
      pathAndQuery: request.pathAndQuery,
      path: request.path,
    };
    const lookup: Lookup = {
      request,
      credential,
      revalidate: decision.revalidate,
      primaryKey: primaryKey(resource, tag),
      pathKey: pathKey(request.policy.key, request.origin, request.path),
      keyring,
      writeMark: this.#writes.now(),
    };

    return { kind: 'lookup', lookup };
  }

  /**
   * Finds the variant stored for the request's own `Vary` header values.
   * A revalidating request never gets a stored response, so it gets a miss
   * with no stale candidate.
   */
  find(lookup: Lookup): Found {
    if (lookup.revalidate) return { kind: 'miss', stale: undefined };

    const entry = this.#matchVariant(lookup);
    if (entry === undefined) return { kind: 'miss', stale: undefined };

    const ageMs = currentAgeMs(entry, this.#now());
    if (ageMs < entry.lifetimeMs) {
      const response = this.#open(lookup, entry, ageMs);
      if (response !== undefined) {
        this.#store.get(entry.key);

        return { kind: 'fresh', response };
      }

      return { kind: 'miss', stale: undefined };
    }
    if (ageMs < entry.lifetimeMs + entry.staleIfErrorMs) {
      return { kind: 'miss', stale: { serve: () => this.#serveStale(lookup, entry) } };
    }

    this.#store.delete(entry.key);

    return { kind: 'miss', stale: undefined };
  }

  /**
   * Stores a GET response when the policy allows it and no write to its
   * path happened since the request was planned. Returns whether it was stored.
   */
  store(lookup: Lookup, response: StoredResponse, timing: ResponseTiming): boolean {
    const { request } = lookup;
    if (this.#writes.writtenSince(lookup.pathKey, lookup.writeMark)) return false;
    // A reload replaced the secret: this request's keys are from the old one.
    if (lookup.credential !== undefined && lookup.keyring !== this.#keyring) return false;

    const decision = decideStorage({
      method: request.method,
      status: response.status,
      headers: response.headers,
      policy: request.policy.cache,
      path: request.path,
      privateEntry: lookup.credential !== undefined,
      ...timing,
    });
    if (!decision.store) return false;

    const varyDigest = this.#varyDigest(lookup, decision.varyNames);
    const key = variantKey(lookup.primaryKey, decision.varyNames, varyDigest);
    const clear = {
      status: response.status,
      headers: storedHeaders(response.headers),
      body: response.body,
    };
    const payload = sealPayload(clear, lookup.keyring, lookup.credential, key);
    const keys = { key, primaryKey: lookup.primaryKey, pathKey: lookup.pathKey, varyDigest };
    const entry: CacheEntry = {
      ...keys,
      hostKey: request.policy.key,
      policyHash: request.policy.hash,
      host: request.host,
      path: request.path,
      varyNames: decision.varyNames,
      status: response.status,
      payload,
      storedAt: timing.responseTime,
      initialAgeMs: decision.initialAgeMs,
      lifetimeMs: decision.lifetimeMs,
      staleIfErrorMs: decision.staleIfErrorMs,
      bytes: entryBytes(payload, keys),
    };

    return this.#store.set(entry);
  }

  /**
   * Removes the entries a successful write made outdated: every entry of
   * the written path and of the same-host URLs in `Location` and
   * `Content-Location`. The caller checks method and status with
   * invalidatesEntries(). Returns how many entries went.
   */
  invalidate(
    hostKey: string,
    target: WriteTarget,
    headers: Readonly<Record<string, string | readonly string[] | undefined>>,
  ): number {
    let removed = 0;
    for (const path of invalidatedPaths(target, headers)) {
      const key = pathKey(hostKey, target.origin, path);
      this.#writes.record(key);
      removed += this.#store.deletePath(key);
    }
    if (removed > 0) this.#telemetry.cacheInvalidation(removed);

    return removed;
  }

  /** Removes the entries matching `filter` (every entry when it is empty); returns how many went. */
  purge(filter: PurgeFilter): number {
    // A fetch already in flight may carry data from before the purge, so it must not store it.
    this.#writes.recordAll();
    const removed = this.#store.purge(filter);
    if (removed > 0) this.#telemetry.cacheInvalidation(removed);

    return removed;
  }

  /**
   * Adopts a new config: applies the new limits, drops the entries of host
   * keys that are gone or whose policy changed, and, when the secret
   * changed, every private entry (no request could open them any more).
   */
  reconfigure(snapshot: Snapshot, keyring: CacheKeyring | undefined): void {
    const { maxEntries, maxBytes, maxEntryBytes } = snapshot.cache;
    this.#store.resize({ maxEntries, maxBytes, maxEntryBytes });
    const sameSecret =
      keyring === this.#keyring ||
      (keyring !== undefined && this.#keyring !== undefined && keyring.sameSecret(this.#keyring));
    // Not counted as invalidations: those are removals by writes and purges.
    this.#store.deleteWhere((entry) => {
      const policy = snapshot.hosts.get(entry.hostKey);
      const current = policy?.cache.enabled === true && policy.hash === entry.policyHash;

      return !current || (!sameSecret && entry.payload.kind === 'sealed');
    });
    this.#keyring = keyring;
  }

  /** Statistics for `GET /cache`; the counts come from the CacheCounters sink. */
  stats(counters: CacheCounters): CacheStats {
    const { maxEntries, maxBytes, maxEntryBytes } = this.#store.limits;

    return {
      entries: this.#store.size,
      bytes: this.#store.bytes,
      maxEntries,
      maxBytes,
      maxEntryBytes,
      hits: counters.hits,
      misses: counters.misses,
      stale: counters.stale,
      bypass: counters.bypass,
      evictions: counters.evictions,
      invalidations: counters.invalidations,
    };
  }

  /** Returns the stored variants under the lookup's primary key, as stored (payloads may be sealed). */
  variantsOf(lookup: Lookup): readonly CacheEntry[] {
    return this.#store.variants(lookup.primaryKey);
  }

  get entries(): number {
    return this.#store.size;
  }

  get bytes(): number {
    return this.#store.bytes;
  }

  #varyDigest(lookup: Lookup, names: readonly string[]): string {
    const values = varyValues(lookup.request.headers, names);

    // Private entries keep even their Vary values out of memory in clear.
    return lookup.credential === undefined || lookup.keyring === undefined
      ? values
      : lookup.keyring.digest(values);
  }

  /** Returns the most recently stored variant whose `Vary` values match the request's. */
  #matchVariant(lookup: Lookup): CacheEntry | undefined {
    let match: CacheEntry | undefined;
    const digests = new Map<string, string>();
    for (const entry of this.#store.variants(lookup.primaryKey)) {
      const names = entry.varyNames.join(',');
      let digest = digests.get(names);
      if (digest === undefined) {
        digest = this.#varyDigest(lookup, entry.varyNames);
        digests.set(names, digest);
      }
      if (entry.varyDigest !== digest) continue;
      if (match === undefined || entry.storedAt > match.storedAt) match = entry;
    }

    return match;
  }

  /** Opens the entry's payload; a payload that fails to decrypt is removed and never served. */
  #open(lookup: Lookup, entry: CacheEntry, ageMs: number): CachedResponse | undefined {
    const response = openPayload(entry, lookup.keyring, lookup.credential);
    if (response === undefined) {
      this.#store.delete(entry.key);

      return undefined;
    }

    return { ...response, ageSeconds: Math.floor(ageMs / 1000) };
  }

  #serveStale(lookup: Lookup, entry: CacheEntry): CachedResponse | undefined {
    // The entry may have been invalidated or replaced while the upstream was tried.
    if (this.#store.peek(entry.key) !== entry) return undefined;

    const ageMs = currentAgeMs(entry, this.#now());
    if (ageMs >= entry.lifetimeMs + entry.staleIfErrorMs) return undefined;

    return this.#open(lookup, entry, ageMs);
  }
}

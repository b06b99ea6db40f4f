import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { Snapshot } from '../config/types.ts';
import type { CacheStats } from '../control-surface.ts';
import { FenderError } from '../proxy/errors.ts';
import type { Exchange } from '../proxy/exchange.ts';
import { fanOut, type CacheStatus, type Telemetry } from '../telemetry/events.ts';
import {
  ResponseCache,
  type CachedResponse,
  type CacheRequest,
  type Lookup,
  type StaleCandidate,
} from './cache.ts';
import { Coalescer, untilAborted } from './coalesce.ts';
import { loadKeyring, type CacheKeyring } from './crypto.ts';
import { invalidatesEntries } from './invalidation.ts';
import { collectHeaders } from './key.ts';
import { decideStorage } from './policy.ts';
import { BufferBudget, BufferingSink } from './sink.ts';
import { CacheCounters } from './stats.ts';

// The cache step of the proxy chain, in front of the breaker. A fresh entry
// is served without touching the breaker or the upstream. A miss goes down
// the chain, coalesced with concurrent misses of the same key, and its body
// is buffered for storage. An expired entry inside its stale-if-error window
// covers an upstream failure, a timeout or an open breaker.

/** The end of one upstream fetch for a key, as the requests waiting on it get it. */
export type FetchResult =
  /** A response was stored: waiters look it up, each for its own headers. */
  | { readonly kind: 'stored' }
  /** A response that cannot serve other requests (not storable, too large). */
  | { readonly kind: 'not-shared' }
  /** The upstream responded with a 5xx status. */
  | { readonly kind: 'error-status' }
  /** No usable response: the error the chain raised. */
  | { readonly kind: 'failed'; readonly error: unknown }
  /** The client of the fetch went away, which aborted the fetch. */
  | { readonly kind: 'abandoned'; readonly error: unknown };

type ResponseHeaders = Record<string, string | string[]>;

/** The outcome of a miss, filled in while its response arrives. */
interface MissState {
  result: FetchResult | undefined;
  /** A stale response chosen over an upstream 5xx, sent once the chain returns. */
  staleInstead: CachedResponse | undefined;
}

/** Drains a response body that is not sent, keeping its connection reusable. */
function discard(): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}

/**
 * Fender errors that mean the upstream gave no usable response, which a
 * stale entry may cover. The others (a forbidden destination, a client that
 * left) are not upstream failures.
 */
const STALE_COVERS: ReadonlySet<string> = new Set([
  'circuit_open',
  'upstream_connect_failed',
  'upstream_reset',
  'upstream_invalid_response',
  'upstream_timeout',
  'deadline_exceeded',
]);

export class CacheTier {
  readonly #cache: ResponseCache;
  readonly #coalescer = new Coalescer<FetchResult>();
  readonly #counters = new CacheCounters();
  readonly #telemetry: Telemetry;
  readonly #logger: Logger;
  #keyFile: string | undefined;
  /** Bodies being buffered for storage hold at most maxBytes together, besides the stored entries. */
  #buffering: BufferBudget;

  constructor(
    snapshot: Snapshot,
    options: { readonly telemetry: Telemetry; readonly logger: Logger },
  ) {
    // The counters see every cache event because only this tier emits them.
    this.#telemetry = fanOut(this.#counters, options.telemetry);
    this.#logger = options.logger;
    const { maxEntries, maxBytes, maxEntryBytes } = snapshot.cache;
    this.#cache = new ResponseCache(
      { maxEntries, maxBytes, maxEntryBytes },
      { telemetry: this.#telemetry },
    );
    this.#buffering = new BufferBudget(maxBytes);
    this.reconfigure(snapshot);
  }

  /** Adopts a new config: limits, host policies and the private-mode secret. */
  reconfigure(snapshot: Snapshot): void {
    this.#cache.reconfigure(snapshot, this.#loadKeyring(snapshot));
    // Sinks already buffering keep releasing into the budget they started with.
    this.#buffering = new BufferBudget(snapshot.cache.maxBytes);
  }

  stats(): CacheStats {
    return this.#cache.stats(this.#counters);
  }

  purge(filter: { readonly host?: string; readonly prefix?: string }): number {
    const host = filter.host?.trim().toLowerCase();

    return this.#cache.purge({
      ...(host === undefined || host === '' ? {} : { host }),
      ...(filter.prefix === undefined || filter.prefix === '' ? {} : { prefix: filter.prefix }),
    });
  }

  /** Runs the cache step for `x`; `next` is the rest of the chain (breaker, retry, upstream). */
  async handle(x: Exchange, next: () => Promise<void>): Promise<void> {
    const route = x.route as NonNullable<Exchange['route']>;
    if (!route.configured || !route.policy.cache.enabled) return next();

    const request = requestOf(x);
    try {
      await this.#serve(x, request, next);
    } finally {
      if (x.cache !== undefined) {
        this.#telemetry.cacheLookup(
          route.policy.key,
          x.cache.toLowerCase() as Lowercase<CacheStatus>,
        );
      }
    }
  }

  async #serve(x: Exchange, request: CacheRequest, next: () => Promise<void>): Promise<void> {
    const plan = this.#cache.plan(request);
    if (plan.kind === 'bypass') return this.#bypass(x, request, next);

    const { lookup } = plan;
    const found = this.#cache.find(lookup);
    if (found.kind === 'fresh') {
      send(x, found.response, 'HIT');

      return;
    }
    mark(x, 'MISS');
    // HEAD is never stored, so it has nothing to share. A revalidating
    // request never waits for a fetch that started before it.
    const alone =
      request.method !== 'GET' ||
      (lookup.revalidate && this.#coalescer.inFlight(lookup.primaryKey));
    if (alone) {
      return this.#settle(x, found.stale, await this.#fetch(x, lookup, found.stale, next));
    }

    const joined = this.#coalescer.run(lookup.primaryKey, () =>
      this.#fetch(x, lookup, found.stale, next),
    );
    if (joined.role !== 'waiter') return this.#settle(x, found.stale, await joined.result);

    return this.#wait(x, lookup, found.stale, joined.result, next);
  }

  /** Bypass: straight down the chain, marked, and invalidating after a successful write. */
  async #bypass(x: Exchange, request: CacheRequest, next: () => Promise<void>): Promise<void> {
    mark(x, 'BYPASS');
    x.responseTarget = (status, headers) => {
      if (invalidatesEntries(request.method, status)) {
        this.#cache.invalidate(request.policy.key, request, headers);
      }
      headers['x-fender-cache'] = 'BYPASS';
      x.res.writeHead(status, headers);

      return x.res;
    };
    await next();
  }

  /** A coalesced waiter: the leader's stored entry, else stale data, else a fetch of its own. */
  async #wait(
    x: Exchange,
    lookup: Lookup,
    stale: StaleCandidate | undefined,
    shared: Promise<FetchResult>,
    next: () => Promise<void>,
  ): Promise<void> {
    let result: FetchResult;
    try {
      result = await untilAborted(shared, x.signal);
    } catch {
      result = { kind: 'failed', error: abortError(x) };
    }

    if (result.kind === 'stored') {
      const found = this.#cache.find(lookup);
      if (found.kind === 'fresh') {
        send(x, found.response, 'HIT');

        return;
      }
    }
    if (result.kind === 'failed') return this.#settle(x, stale, result);
    if (result.kind === 'error-status' && serveStale(x, stale)) return;

    return this.#settle(x, stale, await this.#fetch(x, lookup, stale, next));
  }

  /** Finishes a request after a fetch: stale data or the error when the fetch failed. */
  #settle(x: Exchange, stale: StaleCandidate | undefined, result: FetchResult): void {
    if (result.kind !== 'failed' && result.kind !== 'abandoned') return;

    const covered = result.error instanceof FenderError && STALE_COVERS.has(result.error.code);
    if (result.kind === 'failed' && covered && serveStale(x, stale)) return;

    throw result.error;
  }

  /**
   * Sends the request down the chain with a response target that buffers
   * storable bodies and stores them. Returns the chain's failures as a
   * FetchResult, for the requests that share this fetch, instead of throwing.
   */
  async #fetch(
    x: Exchange,
    lookup: Lookup,
    stale: StaleCandidate | undefined,
    next: () => Promise<void>,
  ): Promise<FetchResult> {
    const state: MissState = { result: undefined, staleInstead: undefined };
    const requestTime = Date.now();
    x.responseTarget = (status, headers) =>
      this.#missTarget(x, lookup, stale, state, requestTime, status, headers);
    try {
      await next();
    } catch (error) {
      if (x.abortKind() === 'client_closed') return { kind: 'abandoned', error };
      if (state.staleInstead !== undefined) {
        send(x, state.staleInstead, 'STALE');

        return { kind: 'error-status' };
      }

      return { kind: 'failed', error };
    }
    if (state.staleInstead !== undefined) send(x, state.staleInstead, 'STALE');

    return state.result ?? { kind: 'not-shared' };
  }

  /** The response target of a miss: where the final upstream response goes. */
  #missTarget(
    x: Exchange,
    lookup: Lookup,
    stale: StaleCandidate | undefined,
    state: MissState,
    requestTime: number,
    status: number,
    headers: ResponseHeaders,
  ): Writable {
    if (status >= 500) {
      state.result = { kind: 'error-status' };
      // The upstream failed: a stale entry goes to the client instead, and this body is drained.
      const response = stale?.serve();
      if (response !== undefined) {
        state.staleInstead = response;

        return discard();
      }
    }
    headers['x-fender-cache'] = 'MISS';
    if (headers['age'] === undefined) headers['age'] = '0';

    const responseTime = Date.now();
    if (!this.#worthBuffering(lookup, status, headers, requestTime, responseTime)) {
      state.result ??= { kind: 'not-shared' };
      x.res.writeHead(status, headers);

      return x.res;
    }

    return new BufferingSink({
      limit: this.#cache.maxBodyBytes,
      budget: this.#buffering,
      onComplete: (body) => {
        const stored = this.#cache.store(
          lookup,
          { status, headers, body },
          { requestTime, responseTime },
        );
        state.result = { kind: stored ? 'stored' : 'not-shared' };
        x.res.writeHead(status, { ...headers, 'content-length': String(body.length) });
        x.res.end(body);
      },
      onOverflow: () => {
        state.result = { kind: 'not-shared' };
        x.res.writeHead(status, headers);

        return x.res;
      },
    });
  }

  #worthBuffering(
    lookup: Lookup,
    status: number,
    headers: ResponseHeaders,
    requestTime: number,
    responseTime: number,
  ): boolean {
    const { request } = lookup;
    const decision = decideStorage({
      method: request.method,
      status,
      headers,
      policy: request.policy.cache,
      path: request.path,
      privateEntry: lookup.credential !== undefined,
      requestTime,
      responseTime,
    });
    if (!decision.store) return false;

    const declared = Number(headers['content-length']);

    return !(declared > this.#cache.maxBodyBytes);
  }

  #loadKeyring(snapshot: Snapshot): CacheKeyring | undefined {
    const file = snapshot.cache.privateKeyFile;
    const wanted = [...snapshot.hosts.values()].some(
      (policy) => policy.cache.enabled && policy.cache.private === 'encrypt',
    );
    // The config check rejects private: encrypt without a key file, so no warning is due here.
    if (file === undefined || !wanted) {
      this.#keyFile = undefined;

      return undefined;
    }

    const loaded = loadKeyring(file);
    if (loaded.status !== 'loaded') {
      this.#logger.warn({ file }, `${loaded.message}; requests with credentials bypass the cache`);

      return undefined;
    }
    if (this.#keyFile !== file) this.#logger.info({ file }, 'cache private mode enabled');
    this.#keyFile = file;

    return loaded.keyring;
  }
}

function requestOf(x: Exchange): CacheRequest {
  const route = x.route as NonNullable<Exchange['route']>;
  const target = x.target as NonNullable<Exchange['target']>;

  return {
    method: x.req.method ?? 'GET',
    policy: route.policy,
    host: route.host,
    origin: new URL(route.upstream).origin,
    pathAndQuery: target.pathAndQuery,
    path: target.path,
    headers: collectHeaders(x.req.rawHeaders),
  };
}

/**
 * Records the cache status and sets its header now, so that every response
 * carries it, Fender's own error responses included. writeHead() merges
 * headers set this way, and a value passed to it wins.
 */
function mark(x: Exchange, status: CacheStatus): void {
  x.cache = status;
  if (!x.res.headersSent) x.res.setHeader('x-fender-cache', status);
}

/** Sends a stored response; HEAD gets the headers of the stored GET without its body. */
function send(x: Exchange, response: CachedResponse, status: 'HIT' | 'STALE'): void {
  x.cache = status;
  if (x.res.headersSent || x.res.destroyed) return;

  const headers: Record<string, string | readonly string[]> = {
    ...response.headers,
    age: String(response.ageSeconds),
    'x-fender-cache': status,
    'x-request-id': x.requestId,
    'x-fender-attempts': String(x.attempts),
  };
  if (response.status !== 204) headers['content-length'] = String(response.body.length);
  x.res.writeHead(response.status, headers as Record<string, string | string[]>);
  x.res.end(x.req.method === 'HEAD' ? undefined : response.body);
}

function serveStale(x: Exchange, stale: StaleCandidate | undefined): boolean {
  const response = stale?.serve();
  if (response === undefined) return false;

  send(x, response, 'STALE');

  return true;
}

function abortError(x: Exchange): FenderError {
  const host = x.route?.host ?? '';
  if (x.abortKind() === 'client_closed') {
    return new FenderError('client_closed', 'the client closed the connection before the response');
  }

  return new FenderError(
    'deadline_exceeded',
    `the total deadline for ${host} ran out while waiting for the same request to ${host}`,
  );
}

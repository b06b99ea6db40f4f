import type { HostCachePolicy } from '../config/types.ts';
import { deltaSeconds, parseCacheControl, parseHttpDate } from './directives.ts';
import { credentialOf, parseVary, type RequestHeaders } from './key.ts';

// What the cache may do with a request and with the response to it: the
// storability and freshness rules of Fender's cache, a subset of RFC 9111
// for a shared cache with operator-set lifetimes.

/** Statuses that may be stored. */
export const STORABLE_STATUSES: ReadonlySet<number> = new Set([
  200, 203, 204, 300, 301, 404, 405, 410, 414,
]);

/** The reason a request is not looked up. */
export type BypassReason = 'method' | 'request-body' | 'credential' | 'request-no-store';

export type RequestPlan =
  | { readonly kind: 'bypass'; readonly reason: BypassReason }
  | {
      readonly kind: 'lookup';
      /** The request's credential in private mode, undefined for a shared entry. */
      readonly credential: string | undefined;
      /** The request asked to skip stored entries (`no-cache`): fetch, then refresh the entry. */
      readonly revalidate: boolean;
    };

function hasBody(headers: RequestHeaders): boolean {
  const length = headers.get('content-length');

  return (length !== undefined && length.trim() !== '0') || headers.has('transfer-encoding');
}

/**
 * Decides how the cache treats a request to a host with caching enabled.
 * GET and HEAD are looked up; a request with `Authorization` or `Cookie`
 * bypasses unless the host uses `private: encrypt` and the secret is
 * loaded (`privateReady`). A GET with a body bypasses, as the key does
 * not cover the body. A request with `Cache-Control: no-store` bypasses,
 * and one with `no-cache` or `max-age=0` (or, without Cache-Control,
 * `Pragma: no-cache`) revalidates.
 */
export function planRequest(
  method: string,
  headers: RequestHeaders,
  policy: HostCachePolicy,
  privateReady: boolean,
): RequestPlan {
  if (method !== 'GET' && method !== 'HEAD') return { kind: 'bypass', reason: 'method' };
  if (hasBody(headers)) return { kind: 'bypass', reason: 'request-body' };

  const credential = credentialOf(headers);
  if (credential !== undefined && !(policy.private === 'encrypt' && privateReady)) {
    return { kind: 'bypass', reason: 'credential' };
  }

  const cacheControl = headers.get('cache-control');
  const directives = parseCacheControl(cacheControl);
  if (directives.has('no-store')) return { kind: 'bypass', reason: 'request-no-store' };

  const pragmaNoCache =
    cacheControl === undefined && /(^|,)\s*no-cache\s*(,|$)/i.test(headers.get('pragma') ?? '');
  const revalidate =
    directives.has('no-cache') || deltaSeconds(directives, 'max-age') === 0 || pragmaNoCache;

  return { kind: 'lookup', credential, revalidate };
}

/** The reason a response is not stored. */
export type NoStoreReason =
  'method' | 'status' | 'no-store' | 'no-cache' | 'private' | 'set-cookie' | 'vary-any' | 'expired';

export interface ResponseInput {
  readonly method: string;
  readonly status: number;
  /** Response headers with lower-case names, as Node returns them. */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  readonly policy: HostCachePolicy;
  readonly path: string;
  /** The request was credentialed and is cached in private mode. */
  readonly privateEntry: boolean;
  /** When the request was sent and when its response headers arrived (the clock's time, ms). */
  readonly requestTime: number;
  readonly responseTime: number;
}

export type StoreDecision =
  | {
      readonly store: true;
      readonly varyNames: readonly string[];
      readonly lifetimeMs: number;
      readonly initialAgeMs: number;
      readonly staleIfErrorMs: number;
    }
  | { readonly store: false; readonly reason: NoStoreReason };

function refuse(reason: NoStoreReason): StoreDecision {
  return { store: false, reason };
}

function single(value: string | readonly string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : value?.[0];
}

/** Returns the configured lifetime for `path`: the longest matching rule, else the host ttl. */
export function configuredTtlMs(policy: HostCachePolicy, path: string): number {
  // rules are sorted longest path first, so the first match is the most specific.
  const rule = policy.rules.find((candidate) => path.startsWith(candidate.path));

  return rule === undefined ? policy.ttlMs : rule.ttlMs;
}

/**
 * Returns the upstream's limit on freshness in ms, or undefined when it
 * sets none. The limit is `s-maxage`, else `max-age` (RFC 9111 section
 * 4.2.1 gives s-maxage precedence in a shared cache), else `Expires` minus
 * `Date`. An `Expires` that does not parse, such as `0`, is in the past.
 */
function upstreamLimitMs(
  directives: ReturnType<typeof parseCacheControl>,
  headers: ResponseInput['headers'],
  responseTime: number,
): number | undefined {
  const seconds = deltaSeconds(directives, 's-maxage') ?? deltaSeconds(directives, 'max-age');
  if (seconds !== undefined) return seconds * 1000;

  const expires = single(headers['expires']);
  if (expires === undefined) return undefined;

  const expiresAt = parseHttpDate(expires);
  if (Number.isNaN(expiresAt)) return 0;
  const date = parseHttpDate(single(headers['date']));

  return Math.max(0, expiresAt - (Number.isNaN(date) ? responseTime : date));
}

/** Returns the upstream's `Age` in ms; a missing or invalid value counts as 0. */
function upstreamAgeMs(headers: ResponseInput['headers']): number {
  const age = single(headers['age'])?.trim();
  if (age === undefined || !/^\d+$/.test(age)) return 0;

  return Number(age) * 1000;
}

/**
 * Decides whether a response is stored and for how long it stays fresh.
 * Freshness is the configured ttl, never longer than the upstream allows.
 * The initial age is the upstream's `Age` plus the time the request took
 * (RFC 9111 section 4.2.3, without the `Date`-based estimate, which depends
 * on the upstream's clock). `must-revalidate` and `proxy-revalidate` forbid
 * serving the entry once stale, so they turn stale-if-error off for it.
 */
export function decideStorage(input: ResponseInput): StoreDecision {
  if (input.method !== 'GET') return refuse('method');
  if (!STORABLE_STATUSES.has(input.status)) return refuse('status');

  const { headers } = input;
  const directives = parseCacheControl(headers['cache-control']);
  if (directives.has('no-store')) return refuse('no-store');
  if (directives.has('no-cache')) return refuse('no-cache');
  if (directives.has('private') && !input.privateEntry) return refuse('private');
  if (headers['set-cookie'] !== undefined) return refuse('set-cookie');

  const vary = parseVary(headers['vary']);
  if (vary.any) return refuse('vary-any');

  const limitMs = upstreamLimitMs(directives, headers, input.responseTime);
  const configuredMs = configuredTtlMs(input.policy, input.path);
  const lifetimeMs = limitMs === undefined ? configuredMs : Math.min(configuredMs, limitMs);
  const initialAgeMs = upstreamAgeMs(headers) + Math.max(0, input.responseTime - input.requestTime);
  if (initialAgeMs >= lifetimeMs) return refuse('expired');

  const revalidateOnly = directives.has('must-revalidate') || directives.has('proxy-revalidate');

  return {
    store: true,
    varyNames: vary.names,
    lifetimeMs,
    initialAgeMs,
    staleIfErrorMs: revalidateOnly ? 0 : input.policy.staleIfErrorMs,
  };
}

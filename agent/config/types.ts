// The resolved configuration: what the rest of the agent reads. The loader
// turns the file into one immutable Snapshot (defaults merged per host,
// durations in milliseconds, sizes in bytes); a request holds the snapshot
// it started with until it ends, and a reload swaps in a new one.

export type JitterMode = 'full' | 'equal' | 'none';
export type BreakerMode = 'enforce' | 'shadow';
export type PrivateMode = 'bypass' | 'encrypt';

/**
 * Outcome classes named by `retryOn` and `failOn`: `5xx`, `gateway-error`
 * (502, 503, 504), `connect-failure`, `reset`, `timeout` and single status
 * codes such as `429`.
 */
export interface OutcomeMatcher {
  readonly any5xx: boolean;
  readonly gatewayError: boolean;
  readonly connectFailure: boolean;
  readonly reset: boolean;
  readonly timeout: boolean;
  readonly statuses: ReadonlySet<number>;
}

export interface TimeoutPolicy {
  /** TCP and TLS connect, in milliseconds. */
  readonly connectMs: number;
  /** Wait for response headers and every idle gap in the body, in milliseconds. */
  readonly readMs: number;
  /** The whole request, retries and backoff included, in milliseconds. */
  readonly totalMs: number;
}

export interface RetryPolicy {
  /** Retries after the first attempt. */
  readonly retries: number;
  readonly backoff: {
    readonly baseMs: number;
    readonly maxMs: number;
    readonly jitter: JitterMode;
  };
  readonly retryOn: OutcomeMatcher;
  /** Upper-case method names retried without an Idempotency-Key. */
  readonly methods: ReadonlySet<string>;
  readonly budget: {
    readonly ratio: number;
    readonly minPerSecond: number;
    readonly windowMs: number;
  };
}

export interface BreakerPolicy {
  readonly failures: number;
  readonly windowMs: number;
  readonly openForMs: number;
  readonly halfOpenRequests: number;
  readonly failOn: OutcomeMatcher;
  readonly mode: BreakerMode;
}

export interface CacheRule {
  readonly path: string;
  readonly ttlMs: number;
}

export interface HostCachePolicy {
  readonly enabled: boolean;
  readonly ttlMs: number;
  /** Sorted longest path first, so the first prefix match is the most specific. */
  readonly rules: readonly CacheRule[];
  readonly staleIfErrorMs: number;
  readonly private: PrivateMode;
}

export interface HostLimits {
  readonly maxInFlight: number;
  readonly maxRequestBytes: number;
}

/** The policy of one configured host key, with the defaults merged in. */
export interface HostPolicy {
  /** The configured key (`api.example.com`, `api.example.com:8443`, `*.example.com`); the metrics label. */
  readonly key: string;
  /** Upstream origin (`https://api.example.com`), possibly with a `{host}` placeholder. */
  readonly upstream: string;
  readonly timeouts: TimeoutPolicy;
  readonly retry: RetryPolicy;
  readonly breaker: BreakerPolicy;
  readonly cache: HostCachePolicy;
  readonly limits: HostLimits;
  /** Digest of this host's resolved policy; state survives a reload when it is unchanged. */
  readonly hash: string;
}

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export type HmacEncoding = 'hex' | 'base64';

export interface WebhookVerify {
  readonly scheme: 'standard-webhooks' | 'stripe' | 'github' | 'hmac';
  /** Files holding the active secrets; several while a secret rotates. */
  readonly secretFiles: readonly string[];
  readonly toleranceMs: number;
  /** Only for `scheme: hmac`. */
  readonly hmac?: {
    readonly header: string;
    readonly algorithm: 'sha1' | 'sha256' | 'sha512';
    readonly encoding: HmacEncoding;
    readonly prefix: string;
    readonly idHeader: string;
    readonly timestampHeader?: string;
  };
}

export interface WebhookSource {
  readonly name: string;
  readonly path: string;
  readonly verify: WebhookVerify;
  readonly maxBodyBytes: number;
  readonly deliver: {
    readonly url: string;
    readonly timeoutMs: number;
    readonly attempts: number;
    readonly backoff: {
      readonly baseMs: number;
      readonly maxMs: number;
      readonly jitter: JitterMode;
    };
  };
  readonly dedupe: { readonly ttlMs: number };
}

export interface WebhooksConfig {
  readonly listener: ListenAddress;
  readonly journal: string;
  readonly sources: ReadonlyMap<string, WebhookSource>;
}

export interface Snapshot {
  /** sha256 of the file's bytes, hex; exported as `fender_config_info{hash}`. */
  readonly hash: string;
  /** The file it was loaded from. */
  readonly source: string;
  /** The parsed file after validation and default merging, as plain data (for `GET /config`). */
  readonly effective: unknown;
  readonly listeners: {
    readonly egress: ListenAddress;
    readonly control: ListenAddress & { readonly tokenFile?: string };
    readonly metrics: ListenAddress;
  };
  readonly log: {
    readonly level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
    /** Lower-case header names redacted everywhere, besides authorization, cookie and set-cookie. */
    readonly redactHeaders: readonly string[];
  };
  readonly lifecycle: { readonly drainIdleMs: number; readonly drainTimeoutMs: number };
  readonly unknownHosts: 'reject' | 'passthrough';
  /** The defaults as a policy of their own, keyed `_unknown`: used for passthrough hosts. */
  readonly defaults: HostPolicy;
  readonly limits: { readonly maxInFlight: number };
  readonly cache: {
    readonly maxEntries: number;
    readonly maxBytes: number;
    readonly maxEntryBytes: number;
    readonly privateKeyFile?: string;
  };
  /** Host policies by configured key, in file order. */
  readonly hosts: ReadonlyMap<string, HostPolicy>;
  readonly webhooks?: WebhooksConfig;
}

// The built-in policy every host inherits, as the file would write it. The
// file's `defaults` and each host override it field by field (merge.ts).
import { deepFreeze } from './freeze.ts';
import type { PolicyOverrides } from './schema.ts';

/** A type with every optional field of T made required, recursively (lists stay as they are). */
export type Complete<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]-?: Complete<NonNullable<T[K]>> }
    : T;

/** A fully specified policy in file form: durations and sizes as strings. */
export type RawPolicy = Complete<PolicyOverrides>;

export const BUILTIN_POLICY: RawPolicy = deepFreeze({
  timeouts: { connect: '5s', read: '30s', total: '60s' },
  retry: {
    retries: 3,
    backoff: { base: '1s', max: '30s', jitter: 'full' },
    retryOn: ['5xx', 'connect-failure', 'reset'],
    methods: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'],
    budget: { ratio: 0.2, minPerSecond: 10, window: '10s' },
  },
  breaker: {
    failures: 5,
    window: '60s',
    openFor: '30s',
    halfOpenRequests: 1,
    failOn: ['5xx', 'connect-failure', 'reset', 'timeout'],
    mode: 'enforce',
  },
  cache: { enabled: false, ttl: '5m', rules: [], staleIfError: 0, private: 'bypass' },
  limits: { maxInFlight: 1024, maxRequestBytes: '10MiB' },
});

// The shape of the config file. Values stay as written (`5s`, `64MiB`) so the
// parsed file can be shown back by GET /config; snapshot.ts converts them. Checks
// that need two sections at once (defaults merged into a host, an upstream
// against the listeners) are in checks.ts.
import { z } from 'zod';

import {
  MAX_TTL_MS,
  bindHost,
  count,
  decimal,
  duration,
  filePath,
  headerName,
  method,
  outcomeEntry,
  port,
  size,
  strict,
  urlPath,
  wholeNumber,
} from './fields.ts';
import { parseHostKey } from './host-key.ts';
import { describeValue } from './problems.ts';
import { ORIGIN_FORM } from './upstream.ts';
import { webhooksSchema } from './webhook-schema.ts';

const positive = () => duration({ allowZero: false });
const ttl = () => duration({ allowZero: false, maxMs: MAX_TTL_MS });
const jitter = () => z.enum(['full', 'equal', 'none']);

// Every policy field is optional: `defaults` and each host override the
// built-in defaults (defaults.ts) field by field.
const timeouts = strict({
  connect: positive().optional(),
  read: positive().optional(),
  total: positive().optional(),
});

const backoffOverrides = strict({
  base: duration({ allowZero: true }).optional(),
  max: positive().optional(),
  jitter: jitter().optional(),
});

const retry = strict({
  retries: wholeNumber(0, 10).optional(),
  backoff: backoffOverrides.optional(),
  retryOn: z.array(outcomeEntry()).optional(),
  methods: z.array(method()).optional(),
  budget: strict({
    ratio: decimal(0, 1).optional(),
    minPerSecond: decimal(0).optional(),
    window: positive().optional(),
  }).optional(),
});

const breaker = strict({
  failures: count().optional(),
  window: positive().optional(),
  openFor: positive().optional(),
  halfOpenRequests: count().optional(),
  failOn: z.array(outcomeEntry()).optional(),
  mode: z.enum(['enforce', 'shadow']).optional(),
});

const cacheRule = strict({ path: urlPath(), ttl: ttl() });

const hostCache = strict({
  enabled: z.boolean().optional(),
  ttl: ttl().optional(),
  rules: z.array(cacheRule).optional(),
  staleIfError: duration({ allowZero: true, maxMs: MAX_TTL_MS }).optional(),
  private: z.enum(['bypass', 'encrypt']).optional(),
});

const hostLimits = strict({
  maxInFlight: count().optional(),
  maxRequestBytes: size().optional(),
});

const policyShape = {
  timeouts: timeouts.optional(),
  retry: retry.optional(),
  breaker: breaker.optional(),
  cache: hostCache.optional(),
  limits: hostLimits.optional(),
};

/** `defaults`: every policy field, each optional. */
export const policyOverridesSchema = strict(policyShape);

/** One `hosts` entry: an upstream and any policy field to override. */
export const hostSchema = strict({
  // Checked in checks.ts, because whether `{host}` may appear depends on the key.
  upstream: z.string({
    error: (issue) => {
      const got = issue.input === undefined ? 'missing' : `got ${describeValue(issue.input)}`;

      return `expected ${ORIGIN_FORM}, ${got}`;
    },
  }),
  ...policyShape,
});

function listener(host: string, portNumber: number) {
  return strict({ host: bindHost().default(host), port: port().default(portNumber) }).prefault({});
}

/** Each listener, with its default address. */
export const listenerSchemas = {
  egress: listener('127.0.0.1', 7700),
  control: strict({
    host: bindHost().default('127.0.0.1'),
    port: port().default(7701),
    tokenFile: filePath().optional(),
  }).prefault({}),
  metrics: listener('0.0.0.0', 7702),
  // Bound only when `webhooks` is configured.
  webhooks: listener('0.0.0.0', 7703),
};

export const listenersSchema = strict(listenerSchemas).prefault({});

export const cacheSchema = strict({
  maxEntries: count().default(10_000),
  maxBytes: size().default('64MiB'),
  maxEntryBytes: size().default('1MiB'),
  privateKeyFile: filePath().optional(),
}).prefault({});

const hostKey = z.string().check((ctx) => {
  const result = parseHostKey(ctx.value);
  if (!result.ok) ctx.issues.push({ code: 'custom', message: result.message, input: ctx.value });
});

const hostsSchema = z.record(hostKey, hostSchema).default({});

export const configSchema = strict({
  listeners: listenersSchema,
  log: strict({
    level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    // Headers redacted in logs besides authorization, cookie and set-cookie.
    redactHeaders: z.array(headerName()).default([]),
  }).prefault({}),
  lifecycle: strict({
    drainIdle: duration({ allowZero: true }).default('2s'),
    drainTimeout: duration({ allowZero: true }).default('20s'),
  }).prefault({}),
  unknownHosts: z.enum(['reject', 'passthrough']).default('reject'),
  defaults: policyOverridesSchema.prefault({}),
  limits: strict({ maxInFlight: count().default(10_000) }).prefault({}),
  cache: cacheSchema,
  hosts: hostsSchema,
  webhooks: webhooksSchema.optional(),
});

export type ConfigFile = z.output<typeof configSchema>;
export type PolicyOverrides = z.output<typeof policyOverridesSchema>;
export type HostEntry = z.output<typeof hostSchema>;
export type ListenersSection = z.output<typeof listenersSchema>;
export type CacheSection = z.output<typeof cacheSchema>;

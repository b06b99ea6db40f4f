// The `webhooks` section: the receiver's journal and its sources.
import { z } from 'zod';

import {
  MAX_TTL_MS,
  duration,
  filePath,
  headerName,
  size,
  strict,
  urlPath,
  wholeNumber,
} from './fields.ts';
import { describeValue } from './problems.ts';
import { parseDuration } from './units.ts';

const HMAC_ONLY = [
  'header',
  'algorithm',
  'encoding',
  'prefix',
  'idHeader',
  'timestampHeader',
] as const;

const verifySchema = strict({
  scheme: z.enum(['standard-webhooks', 'stripe', 'github', 'hmac']),
  secretFile: filePath().optional(),
  secretFiles: z.array(filePath()).min(1).optional(),
  tolerance: duration({ allowZero: false, maxMs: MAX_TTL_MS }).default('5m'),
  header: headerName().optional(),
  algorithm: z.enum(['sha1', 'sha256', 'sha512']).optional(),
  encoding: z.enum(['hex', 'base64']).optional(),
  prefix: z.string().optional(),
  idHeader: headerName().optional(),
  timestampHeader: headerName().optional(),
}).check((ctx) => {
  for (const [key, message] of verifyProblems(ctx.value)) {
    ctx.issues.push({ code: 'custom', message, input: ctx.value, path: [key] });
  }
});

const backoffSchema = strict({
  base: duration({ allowZero: true }).default('5s'),
  max: duration({ allowZero: false }).default('10m'),
  jitter: z.enum(['full', 'equal', 'none']).default('full'),
})
  .check((ctx) => {
    const { base, max } = ctx.value;
    if (parseDuration(base) > parseDuration(max)) {
      ctx.issues.push({
        code: 'custom',
        message: `base (${base}) must not exceed max (${max})`,
        input: ctx.value,
      });
    }
  })
  .prefault({});

const deliverSchema = strict({
  url: deliveryUrl(),
  timeout: duration({ allowZero: false }).default('10s'),
  // The bound keeps a failing delivery from staying pending for more than a
  // few hours at the 10m backoff cap.
  attempts: wholeNumber(1, 20).default(5),
  backoff: backoffSchema,
});

const dedupeSchema = strict({
  ttl: duration({ allowZero: false, maxMs: MAX_TTL_MS }).default('7d'),
}).prefault({});

export const sourceSchema = strict({
  path: urlPath(),
  verify: verifySchema,
  maxBody: size().default('1MiB'),
  deliver: deliverSchema,
  dedupe: dedupeSchema,
});

// Source names become the `source` metric label.
const sourceName = z.string().check((ctx) => {
  if (/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/.test(ctx.value)) return;

  ctx.issues.push({
    code: 'custom',
    message:
      `invalid source name ${JSON.stringify(ctx.value)}: expected letters, digits, - and _ ` +
      '(at most 63, starting with a letter or digit)',
    input: ctx.value,
  });
});

export const webhooksSchema = strict({
  journal: filePath().default('/var/lib/fender/webhooks.db'),
  sources: z.record(sourceName, sourceSchema).check((ctx) => {
    if (Object.keys(ctx.value).length > 0) return;

    ctx.issues.push({ code: 'custom', message: 'expected at least one source', input: ctx.value });
  }),
});

export type WebhooksSection = z.output<typeof webhooksSchema>;
export type SourceSection = z.output<typeof sourceSchema>;

type VerifySection = z.output<typeof verifySchema>;

/** Returns [key, message] pairs for settings that do not fit the scheme. */
function verifyProblems(verify: VerifySection): [string, string][] {
  const problems: [string, string][] = [];
  if ((verify.secretFile === undefined) === (verify.secretFiles === undefined)) {
    const message = 'set exactly one of secretFile or secretFiles (a list, while a secret rotates)';
    problems.push(['secretFile', message]);
  }

  if (verify.scheme !== 'hmac') {
    const message = `only for scheme hmac, got scheme ${JSON.stringify(verify.scheme)}`;
    for (const key of HMAC_ONLY) {
      if (verify[key] !== undefined) problems.push([key, message]);
    }

    return problems;
  }

  if (verify.header === undefined) {
    problems.push(['header', 'missing; scheme hmac needs the signature header name']);
  }
  if (verify.idHeader === undefined) {
    problems.push(['idHeader', 'missing; scheme hmac needs the header that carries the event id']);
  }

  return problems;
}

/** Returns a schema for the application's endpoint: an http or https URL without credentials. */
function deliveryUrl() {
  const problem = (value: unknown): string | undefined => {
    const url = typeof value === 'string' ? URL.parse(value) : null;
    if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      const form = 'an http:// or https:// URL such as http://127.0.0.1:8080/hooks';

      return `expected ${form}, got ${describeValue(value)}`;
    }
    if (url.username !== '' || url.password !== '') {
      return 'credentials in the delivery URL are not allowed';
    }

    return undefined;
  };

  return z.custom<string>((value) => problem(value) === undefined, {
    error: (issue) => problem(issue.input),
  });
}

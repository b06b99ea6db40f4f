import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { problemsOf, snapshotOf, tempDir } from './helpers.ts';

const temp = tempDir();
const source = join(temp.dir, 'fender.yaml');
temp.write('stripe', 'whsec_test\n');
temp.write('stripe-next', 'whsec_next\n');

// The example of the webhooks contract, with the secret in the temporary directory.
const STRIPE = `
webhooks:
  journal: /var/lib/fender/webhooks.db
  sources:
    stripe:
      path: /webhooks/stripe
      verify: { scheme: stripe, secretFile: stripe, tolerance: 5m }
      deliver: { url: http://127.0.0.1:8080/hooks/stripe, timeout: 10s, attempts: 5,
                 backoff: { base: 5s, max: 10m, jitter: full } }
      dedupe: { ttl: 7d }
`;

function source1(lines: string): string {
  return `webhooks:\n  sources:\n    one:\n${lines}`;
}

describe('webhooks', () => {
  afterAll(() => temp.remove());

  it('loads the contract example', () => {
    const webhooks = snapshotOf(STRIPE, source).webhooks!;
    const stripe = webhooks.sources.get('stripe')!;

    expect(webhooks.listener).toEqual({ host: '0.0.0.0', port: 7703 });
    expect(webhooks.journal).toBe('/var/lib/fender/webhooks.db');
    expect(stripe).toEqual({
      name: 'stripe',
      path: '/webhooks/stripe',
      verify: { scheme: 'stripe', secretFiles: [join(temp.dir, 'stripe')], toleranceMs: 300_000 },
      maxBodyBytes: 1_048_576,
      deliver: {
        url: 'http://127.0.0.1:8080/hooks/stripe',
        timeoutMs: 10_000,
        attempts: 5,
        backoff: { baseMs: 5000, maxMs: 600_000, jitter: 'full' },
      },
      dedupe: { ttlMs: 604_800_000 },
    });
  });

  it('fills the documented defaults', () => {
    const file = source1(`      path: /hooks
      verify: { scheme: github, secretFiles: [stripe, stripe-next] }
      deliver: { url: http://127.0.0.1:8080/hooks }
`);
    const webhooks = snapshotOf(
      `listeners:\n  webhooks: { port: 9000 }\n${file}`,
      source,
    ).webhooks!;
    const one = webhooks.sources.get('one')!;

    expect(webhooks.listener).toEqual({ host: '0.0.0.0', port: 9000 });
    expect(webhooks.journal).toBe('/var/lib/fender/webhooks.db');
    expect(one.verify.secretFiles).toEqual([
      join(temp.dir, 'stripe'),
      join(temp.dir, 'stripe-next'),
    ]);
    expect(one.verify.toleranceMs).toBe(300_000);
    expect(one.maxBodyBytes).toBe(1_048_576);
    expect(one.deliver).toEqual({
      url: 'http://127.0.0.1:8080/hooks',
      timeoutMs: 10_000,
      attempts: 5,
      backoff: { baseMs: 5000, maxMs: 600_000, jitter: 'full' },
    });
    expect(one.dedupe.ttlMs).toBe(604_800_000);
  });

  it('resolves hmac settings with defaults and lower-cased headers', () => {
    const file = source1(`      path: /hooks
      verify: { scheme: hmac, secretFile: stripe, header: X-Signature, idHeader: X-Event-Id, prefix: "sha256=" }
      deliver: { url: http://127.0.0.1:8080/hooks }
`);
    const one = snapshotOf(file, source).webhooks!.sources.get('one')!;

    expect(one.verify.hmac).toEqual({
      header: 'x-signature',
      algorithm: 'sha256',
      encoding: 'hex',
      prefix: 'sha256=',
      idHeader: 'x-event-id',
    });
  });

  it('checks verify settings per scheme', () => {
    const file = source1(`      path: /hooks
      verify: { scheme: hmac, encoding: base32 }
      deliver: { url: http://127.0.0.1:8080/hooks, attempts: 21 }
    two:
      path: /two
      verify: { scheme: stripe, secretFile: stripe, secretFiles: [stripe], header: x-sig }
      deliver: { url: http://127.0.0.1:8080/two }
    three:
      path: /three
      verify: { scheme: hmac, secretFile: stripe }
      deliver: { url: http://127.0.0.1:8080/three }
`);

    expect(problemsOf(file, source)).toEqual([
      'webhooks.sources.one.verify.encoding: expected "hex" or "base64", got "base32" (did you mean "base64"?)',
      'webhooks.sources.one.deliver.attempts: expected a whole number from 1 to 20, got 21',
      'webhooks.sources.two.verify.secretFile: set exactly one of secretFile or secretFiles (a list, while a secret rotates)',
      'webhooks.sources.two.verify.header: only for scheme hmac, got scheme "stripe"',
      'webhooks.sources.three.verify.header: missing; scheme hmac needs the signature header name',
      'webhooks.sources.three.verify.idHeader: missing; scheme hmac needs the header that carries the event id',
    ]);
  });

  it('rejects delivery loops, shared paths and missing secrets', () => {
    const file = source1(`      path: /hooks
      verify: { scheme: github, secretFile: missing }
      deliver: { url: http://localhost:7703/hooks, backoff: { base: 20m } }
    two:
      path: /hooks
      verify: { scheme: github, secretFile: stripe }
      deliver: { url: http://127.0.0.1:8080/two }
`);

    expect(problemsOf(file, source)).toEqual([
      'webhooks.sources.one.deliver.backoff: base (20m) must not exceed max (10m)',
    ]);
    expect(problemsOf(file.replace(', backoff: { base: 20m }', ''), source)).toEqual([
      "webhooks.sources.one.deliver.url: http://localhost:7703 is Fender's own webhooks listener (0.0.0.0:7703): Fender never forwards to its own listeners; point it at the application",
      'webhooks.sources.two.path: /hooks is already the path of source "one"',
      `webhooks.sources.one.verify.secretFile: ${join(temp.dir, 'missing')} does not exist; mount the secret there or correct the path`,
    ]);
  });

  it('checks each valid source when another is invalid', () => {
    const file = source1(`      path: /hooks
      verify: { scheme: github, secretFile: missing }
      deliver: { url: http://127.0.0.1:8080/hooks }
    two:
      path: /two
      verify: { scheme: github }
      deliver: { url: http://127.0.0.1:8080/two, attempts: 0 }
`);

    expect(problemsOf(file, source)).toEqual([
      'webhooks.sources.two.verify.secretFile: set exactly one of secretFile or secretFiles (a list, while a secret rotates)',
      'webhooks.sources.two.deliver.attempts: expected a whole number from 1 to 20, got 0',
      `webhooks.sources.one.verify.secretFile: ${join(temp.dir, 'missing')} does not exist; mount the secret there or correct the path`,
    ]);
  });

  it('rejects an empty source list and a bad source name', () => {
    expect(problemsOf('webhooks: { sources: {} }\n', source)).toEqual([
      'webhooks.sources: expected at least one source',
    ]);
    expect(problemsOf('webhooks: { sources: { "a b": {} } }\n', source)[0]).toBe(
      'webhooks.sources."a b": invalid source name "a b": expected letters, digits, - and _ (at most 63, starting with a letter or digit)',
    );
  });

  it('redacts the delivery query string in effective', () => {
    const file = source1(`      path: /hooks
      verify: { scheme: github, secretFile: stripe }
      deliver: { url: "http://127.0.0.1:8080/hooks?token=s3cret" }
`);
    const snapshot = snapshotOf(file, source);

    expect(JSON.stringify(snapshot.effective)).not.toContain('s3cret');
    expect(JSON.stringify(snapshot.effective)).toContain('http://127.0.0.1:8080/hooks?REDACTED');
    expect(snapshot.webhooks?.sources.get('one')?.deliver.url).toBe(
      'http://127.0.0.1:8080/hooks?token=s3cret',
    );
  });
});

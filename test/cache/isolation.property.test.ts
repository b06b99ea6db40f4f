import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ResponseCache } from '../../agent/cache/cache.ts';
import { CacheKeyring } from '../../agent/cache/crypto.ts';
import { cacheRequest, hostPolicy } from './helpers.ts';

// Drives random sequences of users, paths, languages, writes and clock steps
// through the cache against a model upstream whose bodies name the request
// they were made for. Every response the cache serves must be the one the
// upstream would send to that very request. So it has the same path and
// query and the same user, the same language where the response varies on
// it, and it is no older than the last write to its path.

const USERS = [
  {},
  { authorization: 'Bearer alice' },
  { authorization: 'Bearer bob' },
  { cookie: 'sid=carol' },
  { authorization: 'Bearer alice', cookie: 'sid=carol' },
] as const;
const PATHS = ['/me', '/me?full=1', '/items', '/items/1', '/lang'] as const;
const LANGUAGES = [undefined, 'de', 'en', ''] as const;
const VARY = [
  undefined,
  'Accept-Language',
  undefined,
  'accept-language, Authorization',
  '*',
] as const;
// Storable responses dominate, so that most runs reach hits.
const CACHE_CONTROL = [
  undefined,
  'max-age=30',
  undefined,
  'private, max-age=60',
  'no-store',
  's-maxage=5',
] as const;

interface Identity {
  readonly pathAndQuery: string;
  readonly user: string;
  readonly language: string | null;
  readonly version: number;
}

type Operation =
  | {
      readonly kind: 'get';
      readonly user: number;
      readonly path: number;
      readonly language: number;
      readonly head: boolean;
    }
  | { readonly kind: 'write'; readonly path: number }
  | { readonly kind: 'tick'; readonly ms: number };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('get' as const),
      user: fc.nat(USERS.length - 1),
      path: fc.nat(PATHS.length - 1),
      language: fc.nat(LANGUAGES.length - 1),
      head: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('write' as const), path: fc.nat(PATHS.length - 1) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('tick' as const),
      ms: fc.integer({ min: 0, max: 40_000 }),
    }),
  },
);

/** Per path, the model upstream's response headers: the same for every request, as for a real resource. */
const behaviour = fc.array(
  fc.record({ vary: fc.nat(VARY.length - 1), cacheControl: fc.nat(CACHE_CONTROL.length - 1) }),
  { minLength: PATHS.length, maxLength: PATHS.length },
);

function userOf(headers: Readonly<Record<string, string>>): string {
  return JSON.stringify([headers['authorization'] ?? null, headers['cookie'] ?? null]);
}

/** Hits served across all runs, so a test can show the property was not met by missing always. */
let hits = 0;

function run(mode: 'bypass' | 'encrypt', limits: { maxEntries: number; maxBytes: number }) {
  return fc.property(
    behaviour,
    fc.array(operation, { maxLength: 100, size: 'max' }),
    (behaviours, operations) => {
      let clock = Date.UTC(2026, 11, 2, 10);
      const cache = new ResponseCache(
        { ...limits, maxEntryBytes: 64 * 1024 },
        { keyring: new CacheKeyring(randomBytes(32)), now: () => clock },
      );
      const policy = hostPolicy({ private: mode, ttlMs: 60_000 });
      const versions = new Map<string, number>();
      const path = (index: number) => (PATHS[index] as string).split('?')[0] as string;

      for (const op of operations) {
        if (op.kind === 'tick') {
          clock += op.ms;
          continue;
        }
        if (op.kind === 'write') {
          const written = path(op.path);
          versions.set(written, (versions.get(written) ?? 0) + 1);
          cache.invalidate(
            policy.key,
            { origin: 'https://api.test', host: 'api.test', pathAndQuery: written, path: written },
            {},
          );
          continue;
        }

        const pathAndQuery = PATHS[op.path] as string;
        const user = USERS[op.user] as Readonly<Record<string, string>>;
        const language = LANGUAGES[op.language];
        const headers: Record<string, string> = { ...user };
        if (language !== undefined) headers['accept-language'] = language;
        const request = cacheRequest(pathAndQuery, headers, {
          policy,
          method: op.head ? 'HEAD' : 'GET',
        });
        const expected: Identity = {
          pathAndQuery,
          user: userOf(user),
          language: language ?? null,
          version: versions.get(path(op.path)) ?? 0,
        };
        const plan = cache.plan(request);
        if (plan.kind === 'bypass') continue;

        const found = cache.find(plan.lookup);
        const answer = behaviours[op.path] as { vary: number; cacheControl: number };
        const vary = VARY[answer.vary];
        if (found.kind === 'fresh') {
          hits++;
          const served = JSON.parse(found.response.body.toString()) as Identity;
          expect(served.pathAndQuery).toBe(expected.pathAndQuery);
          expect(served.user).toBe(expected.user);
          expect(served.version).toBe(expected.version);
          if (vary?.toLowerCase().includes('accept-language'))
            expect(served.language).toBe(expected.language);
          expect(found.response.ageSeconds).toBeLessThan(60);
          continue;
        }
        if (op.head) continue;

        const responseHeaders: Record<string, string> = { 'content-type': 'application/json' };
        if (vary !== undefined) responseHeaders['vary'] = vary;
        const cacheControl = CACHE_CONTROL[answer.cacheControl];
        if (cacheControl !== undefined) responseHeaders['cache-control'] = cacheControl;
        const body = Buffer.from(JSON.stringify(expected));
        cache.store(
          plan.lookup,
          { status: 200, headers: responseHeaders, body },
          { requestTime: clock, responseTime: clock },
        );
      }
    },
  );
}

describe('cache isolation property', () => {
  it('serves only responses made for the request, in bypass mode', () => {
    hits = 0;
    fc.assert(run('bypass', { maxEntries: 100, maxBytes: 1024 * 1024 }), { numRuns: 150 });

    // Only requests without credentials can hit in bypass mode.
    expect(hits).toBeGreaterThan(30);
  });

  it('serves only responses made for the request, in encrypt mode', () => {
    hits = 0;
    fc.assert(run('encrypt', { maxEntries: 100, maxBytes: 1024 * 1024 }), { numRuns: 150 });

    expect(hits).toBeGreaterThan(100);
  });

  it('keeps isolation while evicting under tight limits', () => {
    hits = 0;
    fc.assert(run('encrypt', { maxEntries: 3, maxBytes: 8 * 1024 }), { numRuns: 100 });

    expect(hits).toBeGreaterThan(20);
  });
});

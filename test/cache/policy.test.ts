import { describe, expect, it } from 'vitest';
import { deltaSeconds, parseCacheControl, parseHttpDate } from '../../agent/cache/directives.ts';
import { collectHeaders, parseVary } from '../../agent/cache/key.ts';
import { decideStorage, planRequest, type ResponseInput } from '../../agent/cache/policy.ts';
import { cachePolicy, MINUTE } from './helpers.ts';

function response(overrides: Partial<ResponseInput> = {}): ResponseInput {
  return {
    method: 'GET',
    status: 200,
    headers: {},
    policy: cachePolicy(),
    path: '/v1/items',
    privateEntry: false,
    requestTime: 1_000_000,
    responseTime: 1_000_000,
    ...overrides,
  };
}

function headers(values: Record<string, string>) {
  return collectHeaders(Object.entries(values).flat());
}

describe('Cache-Control parsing', () => {
  it('reads directives with and without arguments', () => {
    const directives = parseCacheControl('public, max-age=60, S-MaxAge="30"');

    expect(directives.get('public')).toBe(true);
    expect(directives.get('max-age')).toBe('60');
    expect(directives.get('s-maxage')).toBe('30');
  });

  it('keeps commas inside quoted arguments', () => {
    const directives = parseCacheControl('no-cache="set-cookie, x-a", max-age=5');

    expect(directives.get('no-cache')).toBe('set-cookie, x-a');
    expect(directives.get('max-age')).toBe('5');
  });

  it('keeps the first of repeated directives', () => {
    expect(parseCacheControl(['max-age=10', 'max-age=99']).get('max-age')).toBe('10');
  });

  it('reads an invalid delta-seconds as 0', () => {
    expect(deltaSeconds(parseCacheControl('max-age=abc'), 'max-age')).toBe(0);
    expect(deltaSeconds(parseCacheControl('max-age'), 'max-age')).toBe(0);
    expect(deltaSeconds(parseCacheControl('public'), 'max-age')).toBeUndefined();
  });
});

describe('Vary parsing', () => {
  it('sorts and lower-cases names', () => {
    expect(parseVary('Accept-Language, accept-encoding')).toEqual({
      any: false,
      names: ['accept-encoding', 'accept-language'],
    });
  });

  it('treats * anywhere as any', () => {
    expect(parseVary(['accept', ' * '])).toEqual({ any: true });
  });
});

describe('storability', () => {
  const statuses: Array<[number, boolean]> = [
    [200, true],
    [203, true],
    [204, true],
    [206, false],
    [300, true],
    [301, true],
    [302, false],
    [304, false],
    [307, false],
    [400, false],
    [403, false],
    [404, true],
    [405, true],
    [410, true],
    [414, true],
    [429, false],
    [500, false],
    [503, false],
  ];
  it.each(statuses)('status %i stored: %s', (status, stored) => {
    expect(decideStorage(response({ status })).store).toBe(stored);
  });

  const refusals: Array<[string, Record<string, string | string[]>, string]> = [
    ['no-store', { 'cache-control': 'max-age=60, no-store' }, 'no-store'],
    ['no-cache', { 'cache-control': 'no-cache' }, 'no-cache'],
    ['no-cache with fields', { 'cache-control': 'no-cache="set-cookie"' }, 'no-cache'],
    ['private', { 'cache-control': 'private, max-age=60' }, 'private'],
    ['Set-Cookie', { 'set-cookie': ['a=1'] }, 'set-cookie'],
    ['Vary: *', { vary: '*' }, 'vary-any'],
    ['max-age=0', { 'cache-control': 'max-age=0' }, 'expired'],
    ['Expires: 0', { expires: '0' }, 'expired'],
  ];
  it.each(refusals)('%s is not stored', (_name, responseHeaders, reason) => {
    expect(decideStorage(response({ headers: responseHeaders }))).toEqual({ store: false, reason });
  });

  it('stores only GET responses', () => {
    expect(decideStorage(response({ method: 'HEAD' }))).toEqual({ store: false, reason: 'method' });
    expect(decideStorage(response({ method: 'POST' }))).toEqual({ store: false, reason: 'method' });
  });

  it('stores private responses in private mode', () => {
    const decision = decideStorage(
      response({ headers: { 'cache-control': 'private, max-age=60' }, privateEntry: true }),
    );

    expect(decision.store).toBe(true);
  });

  it('never stores Set-Cookie even in private mode', () => {
    const decision = decideStorage(
      response({ headers: { 'set-cookie': 'sid=1' }, privateEntry: true }),
    );

    expect(decision).toEqual({ store: false, reason: 'set-cookie' });
  });

  it('returns the sorted Vary names', () => {
    const decision = decideStorage(response({ headers: { vary: 'X-B, x-a' } }));

    expect(decision).toMatchObject({ store: true, varyNames: ['x-a', 'x-b'] });
  });
});

describe('freshness', () => {
  function lifetime(overrides: Partial<ResponseInput>): number | undefined {
    const decision = decideStorage(response(overrides));

    return decision.store ? decision.lifetimeMs : undefined;
  }

  it('uses the host ttl without upstream limits', () => {
    expect(lifetime({})).toBe(5 * MINUTE);
  });

  it('uses the longest matching rule', () => {
    const policy = cachePolicy({
      rules: [
        { path: '/v1/countries/eu', ttlMs: 2 * MINUTE },
        { path: '/v1/countries', ttlMs: 60 * MINUTE },
      ],
    });

    expect(lifetime({ policy, path: '/v1/countries/eu/de' })).toBe(2 * MINUTE);
    expect(lifetime({ policy, path: '/v1/countries' })).toBe(60 * MINUTE);
    expect(lifetime({ policy, path: '/v1/items' })).toBe(5 * MINUTE);
  });

  it('caps the ttl by max-age', () => {
    expect(lifetime({ headers: { 'cache-control': 'max-age=60' } })).toBe(60_000);
  });

  it('never extends the ttl by max-age', () => {
    expect(lifetime({ headers: { 'cache-control': 'max-age=86400' } })).toBe(5 * MINUTE);
  });

  it('prefers s-maxage over max-age', () => {
    expect(lifetime({ headers: { 'cache-control': 'max-age=10, s-maxage=120' } })).toBe(120_000);
    expect(lifetime({ headers: { 'cache-control': 's-maxage=10, max-age=120' } })).toBe(10_000);
  });

  it('caps the ttl by Expires minus Date', () => {
    const date = 'Wed, 02 Dec 2026 10:00:00 GMT';
    const expires = 'Wed, 02 Dec 2026 10:01:30 GMT';

    expect(lifetime({ headers: { date, expires } })).toBe(90_000);
  });

  it('ignores Expires when max-age is present', () => {
    expect(lifetime({ headers: { 'cache-control': 'max-age=60', expires: '0' } })).toBe(60_000);
  });

  it('counts the upstream Age and the request time into the initial age', () => {
    const decision = decideStorage(
      response({ headers: { age: '20' }, requestTime: 1_000_000, responseTime: 1_000_500 }),
    );

    expect(decision).toMatchObject({ store: true, initialAgeMs: 20_500 });
  });

  it('does not store a response older than its lifetime', () => {
    const decision = decideStorage(
      response({ headers: { 'cache-control': 'max-age=30', age: '30' } }),
    );

    expect(decision).toEqual({ store: false, reason: 'expired' });
  });

  it('turns stale-if-error off for must-revalidate', () => {
    const policy = cachePolicy({ staleIfErrorMs: 10 * MINUTE });
    const plain = decideStorage(response({ policy }));
    const strict = decideStorage(
      response({ policy, headers: { 'cache-control': 'must-revalidate' } }),
    );

    expect(plain).toMatchObject({ store: true, staleIfErrorMs: 10 * MINUTE });
    expect(strict).toMatchObject({ store: true, staleIfErrorMs: 0 });
  });
});

describe('request plans', () => {
  const shared = cachePolicy();
  const encrypted = cachePolicy({ private: 'encrypt' });

  it('looks up GET and HEAD', () => {
    expect(planRequest('GET', headers({}), shared, false).kind).toBe('lookup');
    expect(planRequest('HEAD', headers({}), shared, false).kind).toBe('lookup');
  });

  it('bypasses other methods', () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
      expect(planRequest(method, headers({}), shared, false)).toEqual({
        kind: 'bypass',
        reason: 'method',
      });
    }
  });

  it('bypasses credentials outside private mode', () => {
    const bypass = { kind: 'bypass', reason: 'credential' };

    expect(planRequest('GET', headers({ Authorization: 'Bearer a' }), shared, true)).toEqual(
      bypass,
    );
    expect(planRequest('GET', headers({ Cookie: 'sid=1' }), shared, true)).toEqual(bypass);
    expect(planRequest('GET', headers({ Cookie: 'sid=1' }), encrypted, false)).toEqual(bypass);
  });

  it('looks up credentials in private mode with the secret loaded', () => {
    const plan = planRequest('GET', headers({ Authorization: 'Bearer a' }), encrypted, true);

    expect(plan).toMatchObject({ kind: 'lookup', credential: JSON.stringify(['Bearer a', null]) });
  });

  it('bypasses a request with a body', () => {
    expect(planRequest('GET', headers({ 'Content-Length': '3' }), shared, false)).toEqual({
      kind: 'bypass',
      reason: 'request-body',
    });
  });

  it('bypasses request no-store', () => {
    expect(planRequest('GET', headers({ 'Cache-Control': 'no-store' }), shared, false)).toEqual({
      kind: 'bypass',
      reason: 'request-no-store',
    });
  });

  const revalidating: Array<Record<string, string>> = [
    { 'Cache-Control': 'no-cache' },
    { 'Cache-Control': 'max-age=0' },
    { Pragma: 'no-cache' },
  ];
  it.each(revalidating)('revalidates %o', (requestHeaders) => {
    const plan = planRequest('GET', headers(requestHeaders), shared, false);

    expect(plan).toMatchObject({ kind: 'lookup', revalidate: true });
  });

  it('ignores Pragma when Cache-Control is present', () => {
    const plan = planRequest(
      'GET',
      headers({ Pragma: 'no-cache', 'Cache-Control': 'max-age=60' }),
      shared,
      false,
    );

    expect(plan).toMatchObject({ kind: 'lookup', revalidate: false });
  });
});

describe('HTTP dates', () => {
  it('parses the three HTTP-date forms', () => {
    const expected = Date.UTC(1994, 10, 6, 8, 49, 37);

    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT')).toBe(expected);
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT')).toBe(expected);
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994')).toBe(expected);
  });

  it('rejects other strings', () => {
    expect(parseHttpDate('0')).toBeNaN();
    expect(parseHttpDate('-1')).toBeNaN();
    expect(parseHttpDate('2026-12-02T10:00:00Z')).toBeNaN();
  });
});

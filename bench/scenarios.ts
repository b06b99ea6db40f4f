// The benchmark scenarios, one function each: what is requested, which rows
// run it, which statuses are expected, and a one-request check after the
// warm-up proving each row really does what the scenario measures.
import type { FenderHostEntry, NginxSite } from './configs.ts';
import type { ProbeResponse } from './probe.ts';
import type { TargetKind, TargetSpec } from './targets.ts';
import { JSON_BODY_BYTES, STREAM_BODY_BYTES } from './upstream.ts';

export interface ScenarioRequest {
  readonly method: string;
  readonly path: string;
  readonly host: string;
  readonly body?: Buffer;
  readonly contentType?: string;
}

export interface Scenario {
  /** The name SCENARIOS selects by. */
  readonly name: string;
  readonly title: string;
  readonly request: ScenarioRequest;
  /** Offered rate in requests per second; closed loop when absent. */
  readonly rate?: number;
  readonly targets: readonly TargetSpec[];
  /** Range of the share of responses with status >= 400 that a row may have; [0, 0] when absent. */
  expectedErrorShare?(target: TargetSpec): readonly [number, number];
  /** Returns a problem when the warm-up check response shows the row is not measuring the scenario. */
  check(target: TargetSpec, res: ProbeResponse): string | undefined;
  /** Returns a problem found in Fender's /metrics after the run. */
  checkMetrics?(metrics: string): string | undefined;
}

/** Share of `GET /flaky` requests the upstream fails with 503 in the retry scenario. */
export const FLAKY_FAIL_RATE = 0.1;
const POST_BODY = Buffer.alloc(16 * 1024, 'x');

function rows(
  kinds: readonly TargetKind[],
  fenderHosts: Record<string, FenderHostEntry>,
  nginxSites: readonly NginxSite[] = [{}],
): TargetSpec[] {
  return kinds.map((kind) => ({ name: kind, kind, fenderHosts, nginxSites }));
}

function expectStatus(res: ProbeResponse, status: number): string | undefined {
  return res.status === status ? undefined : `expected status ${status}, got ${res.status}`;
}

/** Checks a 200 and, for Fender, that the response came through Fender's proxy path. */
function checkProxied(target: TargetSpec, res: ProbeResponse): string | undefined {
  const problem = expectStatus(res, 200);
  if (problem !== undefined || target.kind !== 'fender') return problem;

  return res.headers['x-fender-attempts'] === undefined
    ? 'no x-fender-attempts header: the response did not come from Fender'
    : undefined;
}

function checkJson(target: TargetSpec, res: ProbeResponse): string | undefined {
  const problem = checkProxied(target, res);
  if (problem !== undefined) return problem;

  return res.body.length === JSON_BODY_BYTES
    ? undefined
    : `expected a ${JSON_BODY_BYTES}-byte body, got ${res.body.length} bytes`;
}

function passThrough(origin: string, rate?: number): Scenario {
  const suffix = rate === undefined ? 'closed loop' : `fixed rate ${rate} req/s`;

  return {
    name: rate === undefined ? 'get' : `get-${rate}`,
    title: `GET 1 KiB pass-through, ${suffix}`,
    request: { method: 'GET', path: '/json', host: 'pass.bench' },
    rate,
    targets: rows(['direct', 'fender', 'nginx', 'node-undici'], {
      'pass.bench': { upstream: origin },
    }),
    check: checkJson,
  };
}

function post16k(origin: string): Scenario {
  return {
    name: 'post-16k',
    title: 'POST 16 KiB body, small JSON response',
    request: {
      method: 'POST',
      path: '/ack',
      host: 'pass.bench',
      body: POST_BODY,
      contentType: 'application/octet-stream',
    },
    targets: rows(['direct', 'fender', 'nginx', 'node-undici'], {
      'pass.bench': { upstream: origin },
    }),
    check(target, res) {
      const problem = checkProxied(target, res);
      if (problem !== undefined) return problem;
      const expected = JSON.stringify({ received: POST_BODY.length });

      return res.body === expected
        ? undefined
        : `expected ${expected}, got ${res.body.slice(0, 80)}`;
    },
  };
}

function stream1m(origin: string): Scenario {
  return {
    name: 'stream-1m',
    title: 'GET 1 MiB streamed (chunked) response',
    request: { method: 'GET', path: '/stream', host: 'pass.bench' },
    targets: rows(['direct', 'fender', 'nginx', 'node-undici'], {
      'pass.bench': { upstream: origin },
    }),
    check(target, res) {
      const problem = checkProxied(target, res);
      if (problem !== undefined) return problem;

      return res.body.length === STREAM_BODY_BYTES
        ? undefined
        : `expected ${STREAM_BODY_BYTES} bytes, got ${res.body.length}`;
    },
  };
}

function cacheHit(origin: string): Scenario {
  return {
    name: 'cache-hit',
    title: 'GET 1 KiB cache hit (Fender memory cache; nginx proxy_cache)',
    request: { method: 'GET', path: '/json', host: 'cached.bench' },
    targets: rows(
      ['direct', 'fender', 'nginx'],
      { 'cached.bench': { upstream: origin, cache: { enabled: true, ttl: '5m' } } },
      [{ cache: true }],
    ),
    check(target, res) {
      const problem = checkJson(target, res);
      if (problem !== undefined) return problem;
      if (target.kind === 'direct') return undefined;
      const header = target.kind === 'fender' ? 'x-fender-cache' : 'x-cache-status';

      return res.headers[header] === 'HIT'
        ? undefined
        : `expected ${header}: HIT, got ${res.headers[header]}`;
    },
  };
}

function breakerOpen(origin: string): Scenario {
  return {
    name: 'breaker-open',
    title: 'breaker open: Fender fails fast; direct and nginx reach an upstream that returns 500',
    request: { method: 'GET', path: '/fail', host: 'broken.bench' },
    targets: rows(['direct', 'fender', 'nginx'], {
      'broken.bench': {
        upstream: origin,
        retry: { retries: 0 },
        breaker: { failures: 5, window: '60s', openFor: '1h' },
      },
    }),
    expectedErrorShare: () => [1, 1],
    check(target, res) {
      if (target.kind !== 'fender') return expectStatus(res, 500);
      const problem = expectStatus(res, 503);
      if (problem !== undefined) return problem;
      if (res.headers['x-fender-error'] !== 'circuit_open') {
        return `expected x-fender-error: circuit_open, got ${res.headers['x-fender-error']}`;
      }

      return res.headers['retry-after'] === undefined ? 'no Retry-After header' : undefined;
    },
  };
}

function manyHosts(origin: string): Scenario {
  const names = Array.from(
    { length: 1000 },
    (_, i) => `host-${String(i + 1).padStart(4, '0')}.bench`,
  );
  const target = names[names.length - 1] as string;
  const all: Record<string, FenderHostEntry> = {};
  for (const name of names) all[name] = { upstream: origin };

  return {
    name: 'hosts-1000',
    title: `1,000 configured hosts vs 1 (requests go to ${target}, the last one)`,
    request: { method: 'GET', path: '/json', host: target },
    targets: [
      { name: 'direct', kind: 'direct' },
      { name: 'fender-1host', kind: 'fender', fenderHosts: { [target]: { upstream: origin } } },
      { name: 'fender', kind: 'fender', fenderHosts: all },
      { name: 'nginx', kind: 'nginx', nginxSites: names.map((name) => ({ serverNames: [name] })) },
    ],
    check: checkJson,
  };
}

function retryFlaky(origin: string): Scenario {
  return {
    name: 'retry-flaky',
    title: `retry: the upstream fails ${FLAKY_FAIL_RATE * 100} % of requests with 503`,
    request: { method: 'GET', path: '/flaky', host: 'flaky.bench' },
    targets: rows(
      ['direct', 'fender', 'nginx'],
      {
        'flaky.bench': {
          upstream: origin,
          // Short backoff so the run measures the retry path, not sleeping; the
          // breaker only reports (shadow), as 10 % failures would open it at once.
          retry: { retries: 3, backoff: { base: '1ms', max: '5ms', jitter: 'full' } },
          breaker: { mode: 'shadow' },
        },
      },
      [{ attempts: 4 }],
    ),
    expectedErrorShare: (target) =>
      target.kind === 'direct' ? [FLAKY_FAIL_RATE / 2, FLAKY_FAIL_RATE * 2] : [0, 0.001],
    check: checkJson,
    checkMetrics(metrics) {
      return /^fender_retries_total\{[^}]*\} [1-9]/m.test(metrics)
        ? undefined
        : 'fender_retries_total is 0 or missing after the run: no retries were made';
    },
  };
}

/** All scenarios in run order, for an upstream at `origin`. */
export function allScenarios(origin: string): Scenario[] {
  return [
    passThrough(origin),
    passThrough(origin, 2000),
    passThrough(origin, 5000),
    post16k(origin),
    stream1m(origin),
    cacheHit(origin),
    breakerOpen(origin),
    manyHosts(origin),
    retryFlaky(origin),
  ];
}

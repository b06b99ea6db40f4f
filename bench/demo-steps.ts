// The demo's three steps. Each sends real requests through the agent, prints
// what came back and returns what it saw, so the summary can list which
// behaviour showed up and which did not.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { probe } from './probe.ts';
import type { ProbeResponse } from './probe.ts';
import type { Upstream } from './upstream.ts';

export interface DemoContext {
  readonly ports: { readonly egress: number; readonly control: number; readonly metrics: number };
  readonly upstream: Upstream;
  print(text: string): void;
}

export interface Finding {
  readonly what: string;
  readonly seen: boolean;
  readonly detail?: string;
}

interface Timed extends ProbeResponse {
  readonly ms: number;
  /** Requests the upstream received on the route while this one ran. */
  readonly upstreamCalls: number;
}

interface BreakerRow {
  readonly host: string;
  readonly state: string;
  readonly failures: number;
  readonly retryAt: string | null;
}

async function send(ctx: DemoContext, host: string, path: string, route: string): Promise<Timed> {
  const before = ctx.upstream.counts.get(route) ?? 0;
  const started = performance.now();
  const res = await probe({ port: ctx.ports.egress, path, host });
  const upstreamCalls = (ctx.upstream.counts.get(route) ?? 0) - before;

  return { ...res, ms: performance.now() - started, upstreamCalls };
}

function header(res: ProbeResponse, name: string): string {
  const value = res.headers[name];

  return Array.isArray(value) ? value.join(', ') : (value ?? '-');
}

async function breakerOf(ctx: DemoContext, host: string): Promise<BreakerRow | undefined> {
  const res = await probe({ port: ctx.ports.control, path: '/breakers' });
  if (res.status !== 200) throw new Error(`GET /breakers returned ${res.status}: ${res.body}`);
  const { breakers } = JSON.parse(res.body) as { breakers: BreakerRow[] };

  return breakers.find((row) => row.host === host);
}

function describeBreaker(row: BreakerRow | undefined): string {
  if (row === undefined) return 'not listed';
  const retry = row.retryAt === null ? '' : `, next probe at ${row.retryAt}`;

  return `state ${row.state}, ${row.failures} failure(s) in the window${retry}`;
}

export async function showRetries(ctx: DemoContext): Promise<Finding[]> {
  ctx.print('\n1. Retries (host retry.demo: 3 retries, backoff 50-200 ms with full jitter)');
  ctx.print('   The upstream will fail the next 2 requests to /unstable with 503.');
  ctx.upstream.faults.failNext = 2;
  const healed = await send(ctx, 'retry.demo', '/unstable', 'unstable');
  const attempts = Number(header(healed, 'x-fender-attempts'));
  ctx.print(
    `   GET http://retry.demo/unstable -> ${healed.status}, x-fender-attempts: ${attempts}, ` +
      `${healed.ms.toFixed(0)} ms; the upstream saw ${healed.upstreamCalls} request(s)`,
  );

  ctx.print(
    '   Now it fails the next 10: after 1 + 3 attempts Fender returns the upstream answer.',
  );
  ctx.upstream.faults.failNext = 10;
  const exhausted = await send(ctx, 'retry.demo', '/unstable', 'unstable');
  ctx.upstream.faults.failNext = 0;
  const lastAttempts = Number(header(exhausted, 'x-fender-attempts'));
  ctx.print(
    `   GET http://retry.demo/unstable -> ${exhausted.status}, x-fender-attempts: ${lastAttempts}, ` +
      `x-fender-error: ${header(exhausted, 'x-fender-error')}, ${exhausted.ms.toFixed(0)} ms`,
  );

  return [
    {
      what: 'a failed request retried to success (x-fender-attempts > 1)',
      seen: healed.status === 200 && attempts > 1,
      detail: `status ${healed.status} after ${attempts} attempts`,
    },
    {
      what: "retries exhausted: the upstream's own 503 after 4 attempts",
      seen: exhausted.status === 503 && lastAttempts === 4,
      detail: `status ${exhausted.status} after ${lastAttempts} attempts`,
    },
  ];
}

/** Sends requests to the downed upstream until the breaker rejects one, and returns that response. */
async function tripBreaker(ctx: DemoContext): Promise<Timed | undefined> {
  for (let i = 1; i <= 10; i++) {
    const res = await send(ctx, 'breaker.demo', '/unstable', 'unstable');
    if (header(res, 'x-fender-error') === 'circuit_open') {
      ctx.print(
        `   request ${i}: ${res.status} circuit_open, Retry-After: ${header(res, 'retry-after')} s, ` +
          `${res.ms.toFixed(1)} ms; the upstream saw ${res.upstreamCalls} request(s)`,
      );

      return res;
    }
    ctx.print(`   request ${i}: ${res.status} from the upstream (${res.ms.toFixed(1)} ms)`);
  }

  return undefined;
}

export async function showBreaker(ctx: DemoContext): Promise<Finding[]> {
  ctx.print(
    '\n2. Circuit breaker (host breaker.demo: opens at 3 failures within 10 s, open for 2 s)',
  );
  ctx.print('   The upstream goes down: every request gets 503.');
  ctx.upstream.faults.down = true;
  const fastFail = await tripBreaker(ctx);
  const open = await breakerOf(ctx, 'breaker.demo');
  ctx.print(`   GET /breakers: breaker.demo ${describeBreaker(open)}`);

  ctx.print('   The upstream recovers; once the open time ends the next request is the probe.');
  ctx.upstream.faults.down = false;
  const retryAt = open?.retryAt ? Date.parse(open.retryAt) : Date.now() + 2000;
  await sleep(Math.min(5000, Math.max(0, retryAt - Date.now()) + 100));
  const probeRes = await send(ctx, 'breaker.demo', '/unstable', 'unstable');
  ctx.print(`   probe: GET http://breaker.demo/unstable -> ${probeRes.status}`);
  const closed = await breakerOf(ctx, 'breaker.demo');
  ctx.print(`   GET /breakers: breaker.demo ${describeBreaker(closed)}`);

  return [
    {
      what: 'breaker opened after repeated failures',
      seen: open?.state === 'open',
      detail: describeBreaker(open),
    },
    {
      what: 'fast fail while open: 503 circuit_open with Retry-After, upstream not called',
      seen:
        fastFail !== undefined &&
        fastFail.status === 503 &&
        fastFail.headers['retry-after'] !== undefined &&
        fastFail.upstreamCalls === 0,
    },
    {
      what: 'breaker closed again after the upstream recovered',
      seen: probeRes.status === 200 && closed?.state === 'closed',
      detail: `probe ${probeRes.status}, ${describeBreaker(closed)}`,
    },
  ];
}

export async function showCache(ctx: DemoContext): Promise<Finding[]> {
  ctx.print('\n3. Cache (host cache.demo: GET responses cached for 1 min)');
  let hits = 0;
  let upstreamCalls = 0;
  for (let i = 1; i <= 3; i++) {
    const res = await send(ctx, 'cache.demo', '/json', 'json');
    upstreamCalls += res.upstreamCalls;
    const cache = header(res, 'x-fender-cache');
    if (cache === 'HIT') hits += 1;
    const age = res.headers.age === undefined ? '' : `, Age: ${res.headers.age}`;
    ctx.print(
      `   GET http://cache.demo/json -> ${res.status}, x-fender-cache: ${cache}${age}, ${res.ms.toFixed(1)} ms`,
    );
  }
  ctx.print(`   The upstream saw ${upstreamCalls} request(s) for the 3 GETs.`);

  return [
    {
      what: 'cache hits (x-fender-cache: HIT)',
      seen: hits > 0 && upstreamCalls === 1,
      detail: `${hits} hit(s) of 3, upstream called ${upstreamCalls} time(s)`,
    },
  ];
}

import { register as globalRegistry } from 'prom-client';
import type { MetricObjectWithValues, MetricValue, Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BreakerStateName } from '../../agent/telemetry/events.ts';
import { DURATION_BUCKETS_SECONDS } from '../../agent/telemetry/families.ts';
import { createMetrics } from '../../agent/telemetry/metrics.ts';
import type { Metrics } from '../../agent/telemetry/metrics.ts';
import { checkMetrics, runPromtoolTests } from './promtool.ts';

// The contract: every family with its type and labels, as dashboards and
// alerts depend on them.
const CONTRACT: [name: string, type: string, labels: string[]][] = [
  ['fender_requests_total', 'counter', ['host', 'method', 'code', 'cache']],
  ['fender_request_duration_seconds', 'histogram', ['host', 'method']],
  ['fender_upstream_attempts_total', 'counter', ['host', 'result']],
  ['fender_retries_total', 'counter', ['host', 'reason']],
  ['fender_retry_budget_exhausted_total', 'counter', ['host']],
  ['fender_breaker_state', 'gauge', ['host', 'state']],
  ['fender_breaker_transitions_total', 'counter', ['host', 'from', 'to']],
  ['fender_cache_lookups_total', 'counter', ['host', 'result']],
  ['fender_cache_entries', 'gauge', []],
  ['fender_cache_bytes', 'gauge', []],
  ['fender_cache_evictions_total', 'counter', []],
  ['fender_cache_invalidations_total', 'counter', []],
  ['fender_config_reloads_total', 'counter', ['result']],
  ['fender_config_last_reload_success_timestamp_seconds', 'gauge', []],
  ['fender_config_info', 'gauge', ['hash']],
];

type Breakers = { key: string; state: BreakerStateName }[];

function setup(
  breakers: Breakers = [],
  hash = 'h1',
): Metrics & { state: { breakers: Breakers; hash: string } } {
  const state = { breakers, hash };
  const metrics = createMetrics({
    breakers: () => state.breakers,
    cache: () => ({ entries: 12, bytes: 3456 }),
    configHash: () => state.hash,
  });

  return { ...metrics, state };
}

async function values(registry: Registry, name: string): Promise<MetricValue<string>[]> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`${name} is not registered`);

  return ((await metric.get()) as MetricObjectWithValues<MetricValue<string>>).values;
}

async function valueOf(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const all = await values(registry, name);
  const match = all.find(
    (value) =>
      Object.entries(labels).every(([key, label]) => value.labels[key] === label) &&
      Object.keys(value.labels).length === Object.keys(labels).length,
  );

  return match?.value;
}

function request(
  metrics: Metrics,
  overrides: Partial<Parameters<Metrics['telemetry']['request']>[0]> = {},
): void {
  metrics.telemetry.request({
    requestId: 'r1',
    hostKey: 'api.example.com',
    host: 'api.example.com',
    method: 'GET',
    path: '/v1/users',
    status: 200,
    attempts: 1,
    durationMs: 12,
    ...overrides,
  });
}

describe('metrics', () => {
  afterEach(() => vi.useRealTimers());

  it('registers every contract family on its own registry', async () => {
    const { registry } = setup();
    const exported = await registry.getMetricsAsJSON();
    for (const [name, type, labels] of CONTRACT) {
      const family = exported.find((metric) => metric.name === name);
      expect(family, name).toBeDefined();
      expect(String(family?.type), name).toBe(type);
      const metric = registry.getSingleMetric(name) as unknown as { labelNames: string[] };
      expect(metric.labelNames, name).toEqual(labels);
    }
    expect(
      exported
        .filter((metric) => metric.name.startsWith('fender_'))
        .map((metric) => metric.name)
        .sort(),
    ).toEqual(CONTRACT.map(([name]) => name).sort());
    expect(globalRegistry.getSingleMetric('fender_requests_total')).toBeUndefined();
  });

  it('exports the default process metrics', async () => {
    const { registry } = setup();
    const text = await registry.metrics();
    expect(text).toContain('# TYPE process_cpu_seconds_total counter');
    expect(text).toContain('# TYPE nodejs_heap_size_used_bytes gauge');
  });

  it('keeps two agents apart', async () => {
    const first = setup();
    const second = setup();
    request(first);
    expect(
      await valueOf(first.registry, 'fender_requests_total', {
        host: 'api.example.com',
        method: 'GET',
        code: '200',
        cache: 'none',
      }),
    ).toBe(1);
    expect(await values(second.registry, 'fender_requests_total')).toEqual([]);
  });

  it('counts requests by host, method, code and cache', async () => {
    const metrics = setup();
    request(metrics);
    request(metrics);
    request(metrics, { status: 503, cache: 'MISS' });
    request(metrics, { method: 'BREW', hostKey: '_unknown', status: 403, error: 'unknown_host' });
    const { registry } = metrics;
    expect(
      await valueOf(registry, 'fender_requests_total', {
        host: 'api.example.com',
        method: 'GET',
        code: '200',
        cache: 'none',
      }),
    ).toBe(2);
    expect(
      await valueOf(registry, 'fender_requests_total', {
        host: 'api.example.com',
        method: 'GET',
        code: '503',
        cache: 'miss',
      }),
    ).toBe(1);
    expect(
      await valueOf(registry, 'fender_requests_total', {
        host: '_unknown',
        method: '_other',
        code: '403',
        cache: 'none',
      }),
    ).toBe(1);
  });

  it('observes durations in seconds', async () => {
    const metrics = setup();
    request(metrics, { durationMs: 0.3 });
    request(metrics, { durationMs: 40 });
    request(metrics, { durationMs: 45_000 });
    const all = (await values(
      metrics.registry,
      'fender_request_duration_seconds',
    )) as (MetricValue<string> & { metricName?: string })[];
    const bucket = (le: number | string) =>
      all.find(
        (value) =>
          value.metricName === 'fender_request_duration_seconds_bucket' && value.labels.le === le,
      )?.value;
    expect(bucket(0.0005)).toBe(1);
    expect(bucket(0.025)).toBe(1);
    expect(bucket(0.05)).toBe(2);
    expect(bucket(30)).toBe(2);
    expect(bucket(60)).toBe(3);
    expect(bucket('+Inf')).toBe(3);
    const sum = all.find(
      (value) => value.metricName === 'fender_request_duration_seconds_sum',
    )?.value;
    expect(sum).toBeCloseTo(45.0403, 6);
    expect(DURATION_BUCKETS_SECONDS[0]).toBe(0.0005);
    expect(DURATION_BUCKETS_SECONDS.at(-1)).toBe(60);
  });

  it('counts attempts, retries and exhausted budgets', async () => {
    const { registry, telemetry } = setup();
    telemetry.attempt('api.example.com', '5xx');
    telemetry.attempt('api.example.com', '5xx');
    telemetry.attempt('api.example.com', 'connect_failure');
    telemetry.retry('api.example.com', '5xx');
    telemetry.retryBudgetExhausted('api.example.com');
    telemetry.retryBudgetExhausted('api.example.com');
    expect(
      await valueOf(registry, 'fender_upstream_attempts_total', {
        host: 'api.example.com',
        result: '5xx',
      }),
    ).toBe(2);
    expect(
      await valueOf(registry, 'fender_upstream_attempts_total', {
        host: 'api.example.com',
        result: 'connect_failure',
      }),
    ).toBe(1);
    expect(
      await valueOf(registry, 'fender_retries_total', { host: 'api.example.com', reason: '5xx' }),
    ).toBe(1);
    expect(
      await valueOf(registry, 'fender_retry_budget_exhausted_total', { host: 'api.example.com' }),
    ).toBe(2);
  });

  it('counts breaker transitions and cache events', async () => {
    const { registry, telemetry } = setup();
    telemetry.breakerTransition({
      hostKey: '*.payments.example.com',
      host: 'eu.payments.example.com',
      from: 'closed',
      to: 'open',
      reason: 'failures',
      failures: 5,
      shadow: false,
    });
    telemetry.breakerTransition({
      hostKey: '*.payments.example.com',
      host: 'us.payments.example.com',
      from: 'closed',
      to: 'open',
      reason: 'failures',
      failures: 5,
      shadow: false,
    });
    telemetry.cacheLookup('api.example.com', 'hit');
    telemetry.cacheLookup('api.example.com', 'stale');
    telemetry.cacheEviction(3);
    telemetry.cacheEviction(0);
    telemetry.cacheInvalidation(2);
    expect(
      await valueOf(registry, 'fender_breaker_transitions_total', {
        host: '*.payments.example.com',
        from: 'closed',
        to: 'open',
      }),
    ).toBe(2);
    expect(
      await valueOf(registry, 'fender_cache_lookups_total', {
        host: 'api.example.com',
        result: 'hit',
      }),
    ).toBe(1);
    expect(
      await valueOf(registry, 'fender_cache_lookups_total', {
        host: 'api.example.com',
        result: 'stale',
      }),
    ).toBe(1);
    expect(await valueOf(registry, 'fender_cache_evictions_total')).toBe(3);
    expect(await valueOf(registry, 'fender_cache_invalidations_total')).toBe(2);
    expect(await valueOf(registry, 'fender_cache_entries')).toBe(12);
    expect(await valueOf(registry, 'fender_cache_bytes')).toBe(3456);
  });

  it('computes breaker states at scrape time', async () => {
    const metrics = setup([
      { key: 'api.example.com', state: 'open' },
      { key: '*.payments.example.com', state: 'closed' },
      { key: '*.payments.example.com', state: 'closed' },
      { key: '*.payments.example.com', state: 'half_open' },
    ]);
    const { registry } = metrics;
    expect(
      await valueOf(registry, 'fender_breaker_state', { host: 'api.example.com', state: 'open' }),
    ).toBe(1);
    expect(
      await valueOf(registry, 'fender_breaker_state', { host: 'api.example.com', state: 'closed' }),
    ).toBe(0);
    expect(
      await valueOf(registry, 'fender_breaker_state', {
        host: 'api.example.com',
        state: 'half_open',
      }),
    ).toBe(0);
    expect(
      await valueOf(registry, 'fender_breaker_state', {
        host: '*.payments.example.com',
        state: 'closed',
      }),
    ).toBe(2);
    expect(
      await valueOf(registry, 'fender_breaker_state', {
        host: '*.payments.example.com',
        state: 'half_open',
      }),
    ).toBe(1);

    metrics.state.breakers = [{ key: 'api.example.com', state: 'closed' }];
    expect(
      await valueOf(registry, 'fender_breaker_state', { host: 'api.example.com', state: 'open' }),
    ).toBe(0);
    expect(
      await valueOf(registry, 'fender_breaker_state', { host: 'api.example.com', state: 'closed' }),
    ).toBe(1);
    expect(
      await valueOf(registry, 'fender_breaker_state', {
        host: '*.payments.example.com',
        state: 'closed',
      }),
    ).toBeUndefined();
  });

  it('exports the loaded config hash only', async () => {
    const metrics = setup([], 'hash-one');
    expect(await values(metrics.registry, 'fender_config_info')).toEqual([
      { labels: { hash: 'hash-one' }, value: 1 },
    ]);
    metrics.state.hash = 'hash-two';
    expect(await values(metrics.registry, 'fender_config_info')).toEqual([
      { labels: { hash: 'hash-two' }, value: 1 },
    ]);
  });

  it('counts reloads and keeps the last success time', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-12-01T10:00:00Z'));
    const { registry, telemetry } = setup();
    const start = Date.parse('2026-12-01T10:00:00Z') / 1000;
    expect(await valueOf(registry, 'fender_config_last_reload_success_timestamp_seconds')).toBe(
      start,
    );
    expect(await valueOf(registry, 'fender_config_reloads_total', { result: 'success' })).toBe(0);
    expect(await valueOf(registry, 'fender_config_reloads_total', { result: 'failure' })).toBe(0);

    vi.setSystemTime(new Date('2026-12-01T10:05:00Z'));
    telemetry.configReload({ result: 'success', hash: 'b', previousHash: 'a', trigger: 'watch' });
    vi.setSystemTime(new Date('2026-12-01T10:06:00Z'));
    telemetry.configReload({ result: 'failure', problems: ['x: invalid'], trigger: 'watch' });
    expect(await valueOf(registry, 'fender_config_reloads_total', { result: 'success' })).toBe(1);
    expect(await valueOf(registry, 'fender_config_reloads_total', { result: 'failure' })).toBe(1);
    expect(await valueOf(registry, 'fender_config_last_reload_success_timestamp_seconds')).toBe(
      start + 300,
    );
  });

  it('drops series of removed hosts', async () => {
    const metrics = setup();
    request(metrics);
    request(metrics, { hostKey: 'old.example.com' });
    request(metrics, { hostKey: '_unknown' });
    metrics.telemetry.retryBudgetExhausted('old.example.com');
    metrics.telemetry.attempt('old.example.com', '2xx');
    metrics.retainHosts(['api.example.com']);
    const hosts = async (name: string) =>
      new Set((await values(metrics.registry, name)).map((value) => value.labels.host));
    expect(await hosts('fender_requests_total')).toEqual(new Set(['api.example.com', '_unknown']));
    expect(await hosts('fender_request_duration_seconds')).toEqual(
      new Set(['api.example.com', '_unknown']),
    );
    expect(await hosts('fender_upstream_attempts_total')).toEqual(new Set());
    expect(await hosts('fender_retry_budget_exhausted_total')).toEqual(new Set());

    request(metrics, { hostKey: 'old.example.com' });
    expect(
      await valueOf(metrics.registry, 'fender_requests_total', {
        host: 'old.example.com',
        method: 'GET',
        code: '200',
        cache: 'none',
      }),
    ).toBe(1);
  });
});

describe.runIf(runPromtoolTests)('metrics exposition under promtool', () => {
  async function exposition(): Promise<string> {
    const metrics = setup([{ key: 'api.example.com', state: 'open' }]);
    request(metrics, { cache: 'HIT' });
    metrics.telemetry.attempt('api.example.com', '5xx');
    metrics.telemetry.retry('api.example.com', '5xx');
    metrics.telemetry.retryBudgetExhausted('api.example.com');
    metrics.telemetry.breakerTransition({
      hostKey: 'api.example.com',
      host: 'api.example.com',
      from: 'closed',
      to: 'open',
      reason: 'failures',
      shadow: false,
    });
    metrics.telemetry.cacheLookup('api.example.com', 'miss');
    metrics.telemetry.cacheEviction(1);
    metrics.telemetry.cacheInvalidation(1);
    metrics.telemetry.configReload({ result: 'failure', problems: [], trigger: 'SIGHUP' });

    return metrics.registry.metrics();
  }

  it('lints the fender families clean', async () => {
    const text = await exposition();
    const ours = text
      .split('\n')
      .filter((line) => /^(# (HELP|TYPE) )?fender_/.test(line))
      .join('\n');
    expect(ours).toContain('fender_breaker_state{host="api.example.com",state="open"} 1');
    const result = checkMetrics(`${ours}\n`);
    expect(result.problems).toEqual([]);
    expect(result.status).toBe(0);
  });

  it('parses the whole exposition', async () => {
    // prom-client's own nodejs_active_*_total gauges break promtool's naming
    // lint; every other line must pass.
    const result = checkMetrics(await exposition());
    const others = result.problems.filter(
      (problem) =>
        !/^nodejs_active_\w+_total non-counter metrics should not have "_total" suffix$/.test(
          problem,
        ),
    );
    expect(others).toEqual([]);
  });
});

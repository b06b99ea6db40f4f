import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startControlServer } from '../../control/api.ts';
import type { ControlStarter } from '../../agent/main.ts';
import { send, startTestAgent } from '../helpers/agent.ts';
import type { TestAgent } from '../helpers/agent.ts';
import { spawnFender, waitForStatus } from '../helpers/process.ts';
import type { AgentProcess } from '../helpers/process.ts';
import { startUpstream } from '../helpers/upstream.ts';
import type { FakeUpstream } from '../helpers/upstream.ts';
import { kubeletVolume } from './kubelet-volume.ts';
import type { KubeletVolume } from './kubelet-volume.ts';

// Hot reload of a real agent: a ConfigMap volume updated the kubelet's way,
// SIGHUP and POST /config/reload. Each reload test checks what must survive
// a swap (breaker state of unchanged hosts, overrides, in-flight requests)
// and what an invalid version must not change.

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const LISTENERS = `listeners:
  egress: { host: 127.0.0.1, port: 0 }
  control: { host: 127.0.0.1, port: 0 }
  metrics: { host: 127.0.0.1, port: 0 }
`;

const DEFAULTS = `defaults:
  timeouts: { connect: 1s, read: 5s, total: 10s }
  retry: { retries: 0 }
  breaker: { failures: 2, window: 60s, openFor: 60s }
`;

function config(hosts: Record<string, string>): string {
  const lines = Object.entries(hosts).map(([key, policy]) => `  ${key}: ${policy}`);

  return `${LISTENERS}${DEFAULTS}hosts:\n${lines.join('\n')}\n`;
}

const withControl: ControlStarter = (agent, snapshot, logger) =>
  startControlServer({
    host: snapshot.listeners.control.host,
    port: snapshot.listeners.control.port,
    agent,
    logger,
  });

async function scrape(agent: TestAgent): Promise<string> {
  return (await fetch(`${agent.metricsUrl}/metrics`)).text();
}

/** Returns the value of one series in an exposition, or undefined when absent. */
function sample(exposition: string, series: string): number | undefined {
  const line = exposition.split('\n').find((candidate) => candidate.startsWith(`${series} `));

  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function waitForHash(agent: TestAgent, hash: string): Promise<void> {
  await vi.waitFor(() => expect(agent.agent.configHash()).toBe(hash), {
    timeout: 5_000,
    interval: 20,
  });
}

describe('hot reload of a ConfigMap volume', () => {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const step of cleanup.reverse()) await step();
    cleanup.length = 0;
  });

  async function upstream(handler: Parameters<typeof startUpstream>[0]): Promise<FakeUpstream> {
    const server = await startUpstream(handler);
    cleanup.push(() => server.close());

    return server;
  }

  it('applies swaps in a row, keeps state and rejects an invalid version', async () => {
    let releaseSlow: () => void = () => undefined;
    const slowReleased = new Promise<void>((resolve) => (releaseSlow = resolve));
    const first = await upstream((req, res) => {
      if (req.url === '/slow') void slowReleased.then(() => res.end('first'));
      else res.end('first');
    });
    const second = await upstream((_req, res) => res.end('second'));
    const failing = await upstream((_req, res) => res.writeHead(500).end('down'));

    const v1 = config({
      'a.test': `{ upstream: "${first.origin}" }`,
      'b.test': `{ upstream: "${failing.origin}" }`,
      'gone.test': `{ upstream: "${first.origin}" }`,
    });
    const volume: KubeletVolume = kubeletVolume({ 'fender.yaml': v1 });
    cleanup.push(() => volume.remove());
    const agent = await startTestAgent(v1, {
      configPath: volume.file,
      watch: true,
      startControl: withControl,
    });
    cleanup.push(() => agent.close());
    const control = `http://127.0.0.1:${agent.ports.control}`;
    expect(
      agent.logs.some((line) => String(line.msg).includes('not behind a ..data symlink')),
    ).toBe(false);

    // State that must survive: an open breaker on an unchanged host, and an
    // operator's override on a host whose policy changes.
    expect((await send(agent, 'b.test', '/')).status).toBe(500);
    expect((await send(agent, 'b.test', '/')).status).toBe(500);
    expect(agent.agent.getBreaker('b.test')?.state).toBe('open');
    const override = await fetch(`${control}/breakers/a.test/close?for=10m`, { method: 'POST' });
    expect(override.status).toBe(200);
    const inFlight = send(agent, 'a.test', '/slow');
    await vi.waitFor(() =>
      expect(first.received.some((request) => request.url === '/slow')).toBe(true),
    );
    const startedAt = sample(
      await scrape(agent),
      'fender_config_last_reload_success_timestamp_seconds',
    );

    // v2: a.test moves to another upstream with another policy, gone.test goes.
    const v2 = config({
      'a.test': `{ upstream: "${second.origin}", timeouts: { read: 4s } }`,
      'b.test': `{ upstream: "${failing.origin}" }`,
    });
    volume.publish({ 'fender.yaml': v2 });
    await waitForHash(agent, sha256(v2));
    releaseSlow();
    const finished = await inFlight;
    expect(finished.status).toBe(200);
    expect(finished.body.toString()).toBe('first');
    expect((await send(agent, 'a.test', '/')).body.toString()).toBe('second');
    expect(agent.agent.getBreaker('b.test')).toMatchObject({ state: 'open', failures: 2 });
    expect(agent.agent.getBreaker('a.test')?.mode).toBe('forced_closed');
    expect(agent.agent.getBreaker('gone.test')).toBeUndefined();
    expect((await send(agent, 'gone.test', '/')).status).toBe(403);

    // v3: a new host appears.
    const v3 = config({
      'a.test': `{ upstream: "${second.origin}", timeouts: { read: 4s } }`,
      'b.test': `{ upstream: "${failing.origin}" }`,
      'c.test': `{ upstream: "${second.origin}" }`,
    });
    volume.publish({ 'fender.yaml': v3 });
    await waitForHash(agent, sha256(v3));
    expect((await send(agent, 'c.test', '/')).body.toString()).toBe('second');
    const afterV3 = await scrape(agent);
    expect(sample(afterV3, 'fender_config_reloads_total{result="success"}')).toBe(2);
    expect(sample(afterV3, 'fender_config_reloads_total{result="failure"}')).toBe(0);
    expect(sample(afterV3, `fender_config_info{hash="${sha256(v3)}"}`)).toBe(1);
    const v3LoadedAt = sample(afterV3, 'fender_config_last_reload_success_timestamp_seconds');
    expect(v3LoadedAt).toBeGreaterThanOrEqual(startedAt ?? Infinity);

    // v4 is invalid YAML: rejected with its position, counted, v3 stays.
    volume.publish({ 'fender.yaml': `${v3}  d.test: { upstream: [\n` });
    await vi.waitFor(
      async () =>
        expect(sample(await scrape(agent), 'fender_config_reloads_total{result="failure"}')).toBe(
          1,
        ),
      {
        timeout: 5_000,
        interval: 50,
      },
    );
    const afterV4 = await scrape(agent);
    expect(agent.agent.configHash()).toBe(sha256(v3));
    expect(sample(afterV4, `fender_config_info{hash="${sha256(v3)}"}`)).toBe(1);
    expect(sample(afterV4, 'fender_config_last_reload_success_timestamp_seconds')).toBe(v3LoadedAt);
    const rejected = agent.logs.find(
      (line) => line.msg === 'config reload rejected; the previous config stays',
    );
    expect(rejected?.level).toBe(50);
    expect((rejected?.problems as string[]).join('\n')).toMatch(/line \d+, column \d+/);
    expect((await send(agent, 'c.test', '/')).body.toString()).toBe('second');
    expect(agent.agent.getBreaker('b.test')?.state).toBe('open');
  });

  it('reloads on POST /config/reload', async () => {
    const server = await upstream((_req, res) => res.end('ok'));
    const dir = mkdtempSync(join(tmpdir(), 'fender-reload-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'fender.yaml');
    const v1 = config({ 'a.test': `{ upstream: "${server.origin}" }` });
    writeFileSync(file, v1);
    const agent = await startTestAgent(v1, {
      configPath: file,
      watch: false,
      startControl: withControl,
    });
    cleanup.push(() => agent.close());
    const control = `http://127.0.0.1:${agent.ports.control}`;

    const v2 = config({
      'a.test': `{ upstream: "${server.origin}" }`,
      'b.test': `{ upstream: "${server.origin}" }`,
    });
    writeFileSync(file, v2);
    const ok = await fetch(`${control}/config/reload`, { method: 'POST' });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ hash: sha256(v2), changed: true, previousHash: sha256(v1) });
    expect((await send(agent, 'b.test', '/')).status).toBe(200);

    writeFileSync(file, v2.replace('retries: 0', 'retries: three'));
    const bad = await fetch(`${control}/config/reload`, { method: 'POST' });
    expect(bad.status).toBe(422);
    const body = (await bad.json()) as { error: string; problems: string[] };
    expect(body.error).toBe('invalid_config');
    expect(body.problems.some((problem) => problem.startsWith('defaults.retry.retries: '))).toBe(
      true,
    );
    expect(agent.agent.configHash()).toBe(sha256(v2));
    const metrics = await scrape(agent);
    expect(sample(metrics, 'fender_config_reloads_total{result="success"}')).toBe(1);
    expect(sample(metrics, 'fender_config_reloads_total{result="failure"}')).toBe(1);
    const warned = agent.logs.filter(
      (line) => line.level === 40 && line.change === 'config_reload',
    );
    expect(warned.map((line) => line.result)).toEqual(['success', 'rejected']);
  });
});

describe('hot reload on SIGHUP', () => {
  let child: AgentProcess | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    if (child !== undefined && child.child.exitCode === null) {
      child.child.kill('SIGKILL');
      await child.exited;
    }
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('reloads the file and warns that it is not a ConfigMap volume', async () => {
    dir = mkdtempSync(join(tmpdir(), 'fender-sighup-'));
    const file = join(dir, 'fender.yaml');
    const v1 = config({ 'a.test': '{ upstream: "http://127.0.0.1:9" }' });
    writeFileSync(file, v1);
    child = spawnFender(['--config', file]);
    const running = child;
    await vi.waitFor(() => expect(running.output.stdout).toContain('"msg":"fender started"'), {
      timeout: 10_000,
      interval: 50,
    });
    const started = JSON.parse(
      running.output.stdout.split('\n').find((line) => line.includes('"fender started"')) ?? '{}',
    ) as {
      metrics: number;
    };
    const metricsUrl = `http://127.0.0.1:${started.metrics}`;
    await waitForStatus(`${metricsUrl}/readyz`, 200);
    expect(running.output.stdout).toContain('not behind a ..data symlink');

    const v2 = config({
      'a.test': '{ upstream: "http://127.0.0.1:9" }',
      'b.test': '{ upstream: "http://127.0.0.1:9" }',
    });
    writeFileSync(file, v2);
    running.child.kill('SIGHUP');
    await vi.waitFor(
      () => {
        const lines = running.output.stdout
          .split('\n')
          .filter((line) => line.includes('"trigger":"SIGHUP"'));
        expect(lines.some((line) => line.includes(`"hash":"${sha256(v2)}"`))).toBe(true);
      },
      { timeout: 5_000, interval: 50 },
    );
    const metrics = await (await fetch(`${metricsUrl}/metrics`)).text();
    expect(sample(metrics, `fender_config_info{hash="${sha256(v2)}"}`)).toBe(1);
    expect(running.child.exitCode).toBe(null);
  });
});

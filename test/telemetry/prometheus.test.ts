import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { send, startTestAgent } from '../helpers/agent.ts';
import type { TestAgent } from '../helpers/agent.ts';
import { freePort } from '../helpers/process.ts';
import { startUpstream } from '../helpers/upstream.ts';
import type { FakeUpstream } from '../helpers/upstream.ts';

// A real Prometheus (Debian's `prometheus` package, which .ci/run installs)
// scrapes a running agent on loopback, and the test reads the values back
// through Prometheus's query API. Without the binary the test skips. Under
// CI=true it runs anyway and fails.

const prometheusFound = spawnSync('prometheus', ['--version'], { stdio: 'ignore' }).status === 0;

interface QueryResult {
  status: string;
  data: {
    resultType: string;
    result: { metric: Record<string, string>; value: [number, string] }[];
  };
}

describe.runIf(prometheusFound || process.env.CI === 'true')('scraped by a real Prometheus', () => {
  let agent: TestAgent;
  let healthy: FakeUpstream;
  let failing: FakeUpstream;
  let prometheus: ChildProcess | undefined;
  let prometheusLog = '';
  let dir: string;
  let api: string;

  beforeAll(async () => {
    healthy = await startUpstream((_req, res) => res.end('ok'));
    failing = await startUpstream((_req, res) => res.writeHead(503).end());
    agent = await startTestAgent(`listeners:
  egress: { host: 127.0.0.1, port: 0 }
  control: { host: 127.0.0.1, port: 0 }
  metrics: { host: 127.0.0.1, port: 0 }
defaults:
  retry: { retries: 0 }
  breaker: { failures: 2, window: 60s, openFor: 5m }
hosts:
  a.test: { upstream: "${healthy.origin}" }
  b.test: { upstream: "${failing.origin}" }
`);
    for (let i = 0; i < 3; i++) expect((await send(agent, 'a.test', '/')).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await send(agent, 'b.test', '/')).status).toBe(503);

    dir = mkdtempSync(join(tmpdir(), 'fender-prometheus-'));
    const port = await freePort();
    api = `http://127.0.0.1:${port}/api/v1`;
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: fender
    static_configs:
      - targets: ['127.0.0.1:${agent.ports.metrics}']
`,
    );
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stdout?.on('data', (chunk: Buffer) => (prometheusLog += chunk.toString()));
    prometheus.stderr?.on('data', (chunk: Buffer) => (prometheusLog += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      prometheus?.once('spawn', resolve);
      prometheus?.once('error', (error) =>
        reject(
          new Error(
            `cannot start prometheus: ${error.message}; install Debian's prometheus package`,
          ),
        ),
      );
    });
  }, 30_000);

  afterAll(async () => {
    if (prometheus !== undefined && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus?.once('exit', resolve));
      prometheus.kill('SIGTERM');
      await exited;
    }
    await agent?.close();
    await healthy?.close();
    await failing?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  async function query(expression: string): Promise<QueryResult['data']['result']> {
    const response = await fetch(`${api}/query?query=${encodeURIComponent(expression)}`);
    const body = (await response.json()) as QueryResult;
    expect(body.status).toBe('success');

    return body.data.result;
  }

  /** Waits for Prometheus to have scraped the agent, then returns the query's single value. */
  async function scrapedValue(expression: string): Promise<number> {
    let value: number | undefined;
    await vi.waitFor(
      async () => {
        const result = await query(expression);
        expect(result, `${expression}; prometheus log:\n${prometheusLog}`).toHaveLength(1);
        value = Number(result[0]?.value[1]);
      },
      { timeout: 20_000, interval: 250 },
    );

    return value as number;
  }

  it('reports requests per host', async () => {
    expect(
      await scrapedValue(
        'fender_requests_total{job="fender",host="a.test",code="200",method="GET"}',
      ),
    ).toBe(3);
    expect(await scrapedValue('fender_requests_total{host="b.test",code="503"}')).toBe(2);
  });

  it('reports the breaker state', async () => {
    expect(await scrapedValue('fender_breaker_state{host="b.test",state="open"}')).toBe(1);
    expect(await scrapedValue('fender_breaker_state{host="b.test",state="closed"}')).toBe(0);
    expect(await scrapedValue('fender_breaker_state{host="a.test",state="closed"}')).toBe(1);
  });

  it('sees the target up', async () => {
    expect(await scrapedValue('up{job="fender"}')).toBe(1);
  });
});

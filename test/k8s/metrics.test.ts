import { createServer, request } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcess, waitForStatus, writeAgentConfig } from './agent-process.ts';
import type { AgentConfig, AgentProcess } from './agent-process.ts';
import { ROOT } from './kustomize.ts';
import {
  CONTRACT,
  TARGET_LABELS,
  alertQueries,
  dashboardQueries,
  matchersOf,
  metricsOf,
} from './promql.ts';

// What the real agent exports at /metrics, against the contract and against
// every metric the alerts and the dashboard read, so the three cannot drift.

const AGENT_ENTRY = join(ROOT, 'bin', 'fender.ts');

interface Scrape {
  readonly types: ReadonlyMap<string, string>;
  readonly samples: readonly { name: string; labels: Record<string, string> }[];
}

function parseExposition(text: string): Scrape {
  const types = new Map<string, string>();
  const samples: { name: string; labels: Record<string, string> }[] = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type !== null) types.set(type[1] ?? '', type[2] ?? '');
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+/.exec(line);
    if (sample === null || line.startsWith('#')) continue;
    const labels = Object.fromEntries(
      [...(sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [
        m[1],
        m[2],
      ]),
    );
    samples.push({ name: sample[1] ?? '', labels: labels as Record<string, string> });
  }

  return { types, samples };
}

/** GET in host form through the egress listener; fetch cannot set Host, so this uses node:http. */
function getThrough(egressPort: number, host: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port: egressPort, path, headers: { host } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    })
      .on('error', reject)
      .end();
  });
}

describe('agent /metrics', () => {
  let upstream: Server;
  let config: AgentConfig;
  let agent: AgentProcess;
  let scrape: Scrape;

  beforeAll(async () => {
    upstream = createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'),
    );
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', () => resolve()));
    const origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    config = await writeAgentConfig(origin);
    agent = startProcess([process.execPath, AGENT_ENTRY, '--config', config.path]);
    const metricsUrl = `http://127.0.0.1:${config.ports.metrics}`;
    await waitForStatus(`${metricsUrl}/readyz`, 200, agent);

    // Traffic through the egress listener in host form, to a plain and a
    // wildcard host key, so the labelled families have samples to check.
    for (const host of ['api.example.com', 'shop.payments.example.com']) {
      expect(await getThrough(config.ports.egress, host, '/v1/countries')).toBe(200);
    }
    scrape = parseExposition(await (await fetch(`${metricsUrl}/metrics`)).text());
  });

  afterAll(async () => {
    agent?.child.kill('SIGKILL');
    await agent?.exit;
    config?.remove();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  it('exports every contract family with its type', () => {
    for (const [name, { type }] of Object.entries(CONTRACT))
      expect(scrape.types.get(name), name).toBe(type);
  });

  it('exports every metric the alerts and dashboard read', () => {
    const used = new Set(
      [...alertQueries(), ...dashboardQueries()].flatMap((query) => metricsOf(query.expr)),
    );
    expect(used.size).toBeGreaterThan(5);
    for (const metric of used) expect(scrape.types.has(metric), metric).toBe(true);
  });

  it('labels its series as the contract says', () => {
    const fender = scrape.samples.filter((sample) => sample.name.startsWith('fender_'));
    const names = new Set(fender.map((sample) => sample.name.replace(/_(bucket|sum|count)$/, '')));
    for (const family of [
      'fender_requests_total',
      'fender_upstream_attempts_total',
      'fender_breaker_state',
    ]) {
      expect(names.has(family), `${family} has samples`).toBe(true);
    }
    for (const sample of fender) {
      const family =
        CONTRACT[sample.name] ?? CONTRACT[sample.name.replace(/_(bucket|sum|count)$/, '')];
      expect(family, sample.name).toBeDefined();
      const allowed = [...(family?.labels ?? []), 'le'];
      for (const label of Object.keys(sample.labels))
        expect(allowed, `${sample.name}{${label}}`).toContain(label);
    }
  });

  it('uses the label values the queries filter on', () => {
    const seen = new Map<string, Set<string>>();
    for (const sample of scrape.samples) {
      for (const [label, value] of Object.entries(sample.labels)) {
        const key = `${sample.name}/${label}`;
        seen.set(key, (seen.get(key) ?? new Set()).add(value));
      }
    }
    for (const [name, family] of Object.entries(CONTRACT)) {
      for (const [label, values] of Object.entries(family.values ?? {})) {
        for (const value of seen.get(`${name}/${label}`) ?? [])
          expect(values, `${name}{${label}}`).toContain(value);
      }
    }
    const states = seen.get('fender_breaker_state/state') ?? new Set();
    expect([...states].sort()).toEqual(['closed', 'half_open', 'open']);
  });

  it('carries no target label of its own', () => {
    const queried = new Set(
      [...alertQueries(), ...dashboardQueries()].flatMap((query) =>
        matchersOf(query.expr).map((m) => m.label),
      ),
    );
    for (const sample of scrape.samples.filter((candidate) =>
      candidate.name.startsWith('fender_'),
    )) {
      for (const label of TARGET_LABELS.filter((name) => name !== 'le')) {
        expect(
          sample.labels[label],
          `${sample.name} sets ${label}, which Prometheus would rename`,
        ).toBeUndefined();
      }
    }
    expect(queried.has('namespace')).toBe(true);
  });
});

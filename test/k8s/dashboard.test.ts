import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  CONTRACT,
  TARGET_LABELS,
  alertQueries,
  dashboard,
  dashboardPanels,
  dashboardQueries,
  labelsOf,
  matchersOf,
  metricsOf,
} from './promql.ts';
import { findTool, requireTool, skipWithout } from './tools.ts';

// The Grafana dashboard, and the metric names and labels that it and the
// alerts read, held against the metrics contract.

const PROMTOOL = findTool('promtool', 'FENDER_PROMTOOL');
const dir = mkdtempSync(join(tmpdir(), 'fender-dashboard-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const QUERIES = [...alertQueries(), ...dashboardQueries()];

/** `label_values(metric{...}, label)` queries of the dashboard's variables. */
function variableQueries(): { name: string; metric: string; label: string }[] {
  return dashboard().templating.list.flatMap((variable) => {
    if (variable.type !== 'query') return [];
    const query =
      typeof variable.query === 'string' ? variable.query : (variable.query?.query ?? '');
    const match = /^label_values\((fender_[a-z_]+)(?:\{[^}]*\})?,\s*([a-z_]+)\)$/.exec(query);

    return [{ name: variable.name, metric: match?.[1] ?? '', label: match?.[2] ?? '' }];
  });
}

describe('grafana dashboard', () => {
  const panels = dashboardPanels();

  it('has the panels an operator looks for', () => {
    const titles = panels.map((panel) => panel.title);
    for (const title of [
      'Request rate by host',
      'Error ratio by host',
      'Latency p50 by host',
      'Latency p99 by host',
      'Breaker state over time',
      'Retries by host and reason',
      'Cache hit ratio by host',
      'Config reloads',
    ]) {
      expect(titles).toContain(title);
    }
  });

  it('has a unique id and grid place per panel', () => {
    const ids = panels.map((panel) => (panel as unknown as { id: number }).id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of panels) {
      const { x, w, h } = (panel as unknown as { gridPos: { x: number; w: number; h: number } })
        .gridPos;
      expect(x + w, panel.title).toBeLessThanOrEqual(24);
      expect(h, panel.title).toBeGreaterThan(0);
    }
  });

  it('reads every panel from the chosen data source', () => {
    for (const panel of panels.filter((candidate) => candidate.type !== 'row')) {
      const source = (panel as unknown as { datasource: { uid: string } }).datasource;
      expect(source.uid, panel.title).toBe('${datasource}');
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
    }
  });

  it('filters by variables that exist', () => {
    const variables = new Set(dashboard().templating.list.map((variable) => variable.name));
    expect(variables).toEqual(new Set(['datasource', 'namespace', 'host']));
    for (const variable of variableQueries()) {
      expect(CONTRACT[variable.metric], variable.name).toBeDefined();
      expect([...(CONTRACT[variable.metric]?.labels ?? []), ...TARGET_LABELS]).toContain(
        variable.label,
      );
    }
  });

  it.skipIf(skipWithout(PROMTOOL))('panel queries are valid PromQL', () => {
    const tool = requireTool(PROMTOOL, 'promtool', "install Debian's prometheus package");
    const queries = dashboardQueries();
    const rules = {
      groups: [
        {
          name: 'dashboard',
          rules: queries.map((query, index) => ({
            record: `dashboard:query_${index}`,
            expr: query.expr,
          })),
        },
      ],
    };
    writeFileSync(join(dir, 'queries.yaml'), stringify(rules));
    const result = spawnSync(tool, ['check', 'rules', 'queries.yaml'], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(`${result.stdout}${result.stderr}`).toContain(`SUCCESS: ${queries.length} rules found`);
    expect(result.status).toBe(0);
  });
});

describe('metric names in dashboard and alerts', () => {
  it.each(QUERIES.map((query) => [query.source, query.expr]))(
    '%s reads contract metrics',
    (_source, expr) => {
      const metrics = metricsOf(expr);
      expect(metrics.length).toBeGreaterThan(0);
      for (const metric of metrics) expect(Object.keys(CONTRACT)).toContain(metric);
    },
  );

  it.each(QUERIES.map((query) => [query.source, query.expr]))(
    '%s uses existing labels',
    (_source, expr) => {
      const allowed = new Set([
        ...metricsOf(expr).flatMap((metric) => CONTRACT[metric]?.labels ?? []),
        ...TARGET_LABELS,
      ]);
      for (const label of labelsOf(expr)) expect([...allowed]).toContain(label);
    },
  );

  it.each(QUERIES.map((query) => [query.source, query.expr]))(
    '%s filters on existing values',
    (_source, expr) => {
      for (const matcher of matchersOf(expr)) {
        const values = CONTRACT[matcher.metric]?.values?.[matcher.label];
        if (values === undefined) continue;
        // An alternation of plain values (`5xx|timeout`), as the queries here write them.
        for (const value of matcher.value.split('|'))
          expect(values, `${matcher.metric}{${matcher.label}}`).toContain(value);
      }
    },
  );

  it('finds labels in selectors and clauses', () => {
    expect(
      labelsOf('sum by (host, le) (rate(x{namespace=~"a", state!="b"}[5m])) > on (pod) y'),
    ).toEqual(['namespace', 'state', 'host', 'le', 'pod']);
    expect(
      metricsOf('rate(fender_request_duration_seconds_bucket[5m]) / fender_requests_total'),
    ).toEqual(['fender_request_duration_seconds', 'fender_requests_total']);
  });
});

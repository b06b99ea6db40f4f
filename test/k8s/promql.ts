import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { K8S } from './kustomize.ts';

// The PromQL that the alerts and the dashboard depend on, and the metric
// families the agent promises to export, so that tests can hold one
// against the other.

/**
 * Fender's metric families with their type and labels, as the operations
 * docs list them, and the values of the labels that queries filter on.
 */
export const CONTRACT: Readonly<
  Record<
    string,
    {
      type: string;
      labels: readonly string[];
      values?: Readonly<Record<string, readonly string[]>>;
    }
  >
> = {
  fender_requests_total: { type: 'counter', labels: ['host', 'method', 'code', 'cache'] },
  fender_request_duration_seconds: { type: 'histogram', labels: ['host', 'method'] },
  fender_upstream_attempts_total: {
    type: 'counter',
    labels: ['host', 'result'],
    values: { result: ['1xx', '2xx', '3xx', '4xx', '5xx', 'timeout', 'connect_failure', 'reset'] },
  },
  fender_retries_total: { type: 'counter', labels: ['host', 'reason'] },
  fender_retry_budget_exhausted_total: { type: 'counter', labels: ['host'] },
  fender_breaker_state: {
    type: 'gauge',
    labels: ['host', 'state'],
    values: { state: ['closed', 'open', 'half_open'] },
  },
  fender_breaker_transitions_total: { type: 'counter', labels: ['host', 'from', 'to'] },
  fender_cache_lookups_total: {
    type: 'counter',
    labels: ['host', 'result'],
    values: { result: ['hit', 'miss', 'stale', 'bypass'] },
  },
  fender_cache_entries: { type: 'gauge', labels: [] },
  fender_cache_bytes: { type: 'gauge', labels: [] },
  fender_cache_evictions_total: { type: 'counter', labels: [] },
  fender_cache_invalidations_total: { type: 'counter', labels: [] },
  fender_config_reloads_total: {
    type: 'counter',
    labels: ['result'],
    values: { result: ['success', 'failure'] },
  },
  fender_config_last_reload_success_timestamp_seconds: { type: 'gauge', labels: [] },
  fender_config_info: { type: 'gauge', labels: ['hash'] },
};

/** Labels Prometheus adds to every scraped series (PodMonitor target labels), and `le` of histogram buckets. */
export const TARGET_LABELS = ['namespace', 'pod', 'container', 'instance', 'job', 'endpoint', 'le'];

export interface Query {
  /** Where it comes from: `alert FenderCircuitBreakerOpen`, `panel "Request rate by host"`. */
  readonly source: string;
  readonly expr: string;
}

export interface RuleGroup {
  name: string;
  rules: {
    alert?: string;
    record?: string;
    expr: string;
    for?: string;
    labels?: Record<string, string>;
  }[];
}

/** Reads the `spec` of k8s/monitoring/prometheusrule.yaml, which is a Prometheus rules file's content. */
export function ruleGroups(): { groups: RuleGroup[] } {
  const rule = parse(readFileSync(join(K8S, 'monitoring', 'prometheusrule.yaml'), 'utf8')) as {
    spec: { groups: RuleGroup[] };
  };

  return rule.spec;
}

export function alertQueries(): Query[] {
  return ruleGroups().groups.flatMap((group) =>
    group.rules.map((rule) => ({ source: `alert ${rule.alert ?? rule.record}`, expr: rule.expr })),
  );
}

interface Panel {
  title: string;
  type: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}

export interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: string | { query: string } }[] };
}

export function dashboard(): Dashboard {
  return JSON.parse(
    readFileSync(join(K8S, 'grafana', 'fender-dashboard.json'), 'utf8'),
  ) as Dashboard;
}

export function dashboardPanels(): Panel[] {
  return dashboard().panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
}

/** Lists the panel queries with Grafana's variables replaced, so that they are plain PromQL. */
export function dashboardQueries(): Query[] {
  const substitute = (expr: string) =>
    expr
      .replaceAll('$__rate_interval', '2m')
      .replaceAll('$__range', '1h')
      .replaceAll('$namespace', '.*')
      .replaceAll('$host', '.*');

  return dashboardPanels().flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({
      source: `panel "${panel.title}"`,
      expr: substitute(target.expr),
    })),
  );
}

/** Returns the metric family of a series name; histogram series map to their family. */
export function familyOf(series: string): string {
  const base = series.replace(/_(bucket|sum|count)$/, '');

  return CONTRACT[base]?.type === 'histogram' ? base : series;
}

/** Lists every Fender metric family a query reads. */
export function metricsOf(expr: string): string[] {
  return [
    ...new Set([...expr.matchAll(/\bfender_[a-z0-9_]+/g)].map((match) => familyOf(match[0]))),
  ];
}

/** Lists the label names a query uses in selectors and in by/on/without/ignoring clauses. */
export function labelsOf(expr: string): string[] {
  const names = new Set<string>();
  for (const selector of expr.matchAll(/\{([^}]*)\}/g)) {
    for (const matcher of (selector[1] ?? '').matchAll(
      /([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g,
    )) {
      names.add(matcher[1] ?? '');
    }
  }
  for (const clause of expr.matchAll(/\b(?:by|on|without|ignoring)\s*\(([^)]*)\)/g)) {
    for (const name of (clause[1] ?? '').split(',')) if (name.trim() !== '') names.add(name.trim());
  }

  return [...names];
}

export interface Matcher {
  readonly metric: string;
  readonly label: string;
  readonly op: string;
  readonly value: string;
}

/** Lists the label matchers written on a Fender metric, as `metric{label="value"}`. */
export function matchersOf(expr: string): Matcher[] {
  return [...expr.matchAll(/\b(fender_[a-z0-9_]+)\{([^}]*)\}/g)].flatMap((selector) =>
    [...(selector[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)].map(
      (match) => ({
        metric: familyOf(selector[1] ?? ''),
        label: match[1] ?? '',
        op: match[2] ?? '',
        value: match[3] ?? '',
      }),
    ),
  );
}

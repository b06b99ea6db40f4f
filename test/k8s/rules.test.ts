import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ruleGroups } from './promql.ts';
import type { RuleGroup } from './promql.ts';
import { findTool, requireTool, skipWithout } from './tools.ts';

// The PrometheusRule's alerts, checked and unit-tested by promtool.

const PROMTOOL = findTool('promtool', 'FENDER_PROMTOOL');
const PROMTEST = join(import.meta.dirname, 'alerts.promtest.yaml');
const dir = mkdtempSync(join(tmpdir(), 'fender-rules-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function promtool(args: string[]): { status: number | null; output: string } {
  const tool = requireTool(PROMTOOL, 'promtool', "install Debian's prometheus package");
  const result = spawnSync(tool, args, { cwd: dir, encoding: 'utf8', timeout: 30_000 });

  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** Writes rule groups where the unit tests expect them, with the tests beside. */
function writeRules(groups: { groups: RuleGroup[] }): void {
  writeFileSync(join(dir, 'rules.yaml'), stringify(groups));
  copyFileSync(PROMTEST, join(dir, 'alerts.promtest.yaml'));
}

const alerts = ruleGroups().groups.flatMap((group) => group.rules.map((rule) => rule.alert ?? ''));

describe.skipIf(skipWithout(PROMTOOL))('alert rules', () => {
  it('defines the four alerts', () => {
    expect(alerts).toEqual([
      'FenderCircuitBreakerOpen',
      'FenderUpstreamFailureRatioHigh',
      'FenderRetryBudgetExhausted',
      'FenderConfigReloadFailing',
    ]);
  });

  it('pass promtool check rules', () => {
    writeRules(ruleGroups());
    const result = promtool(['check', 'rules', 'rules.yaml']);
    expect(result.output).toContain('SUCCESS: 4 rules found');
    expect(result.status).toBe(0);
  });

  it('pass promtool test rules', () => {
    writeRules(ruleGroups());
    const result = promtool(['test', 'rules', 'alerts.promtest.yaml']);
    expect(result.output).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  it('each have a unit test that expects them to fire', () => {
    const tests = parse(readFileSync(PROMTEST, 'utf8')) as {
      tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    const firing = new Set(
      tests.tests.flatMap((test) =>
        test.alert_rule_test
          .filter((check) => check.exp_alerts.length > 0)
          .map((check) => check.alertname),
      ),
    );
    for (const alert of alerts) expect(firing.has(alert), alert).toBe(true);
  });

  // A unit test that passes whatever the rule's expression is proves nothing,
  // so with each alert's expression replaced by one that never fires, promtool must fail.
  it.each(alerts)('unit tests catch a broken %s', (alert) => {
    const broken = ruleGroups();
    for (const group of broken.groups) {
      for (const rule of group.rules) if (rule.alert === alert) rule.expr = 'vector(0) > 1';
    }
    writeRules(broken);
    const result = promtool(['test', 'rules', 'alerts.promtest.yaml']);
    expect(result.status).not.toBe(0);
    expect(result.output).toContain(`alertname: ${alert}`);
  });
});

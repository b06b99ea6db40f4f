// Tables of one benchmark run, as Markdown: medians with min-max over the
// rounds, ratios taken round by round against rows of the same round, the
// latency added over direct at a fixed rate, and the goals with their status.
import type { RunRecord } from './measure.ts';
import type { Scenario } from './scenarios.ts';

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length % 2 === 1) return sorted[mid] as number;

  return ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function fixed(value: number | undefined, digits: number): string {
  return value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits);
}

function spread(values: readonly number[], digits: number): string {
  if (values.length === 0) return '-';
  const mid = fixed(median(values), digits);
  if (values.length === 1) return mid;

  return `${mid} (${fixed(Math.min(...values), digits)}-${fixed(Math.max(...values), digits)})`;
}

function defined<T>(values: readonly (T | undefined)[]): T[] {
  return values.filter((value): value is T => value !== undefined);
}

type Metric = (record: RunRecord) => number | undefined;

const rps: Metric = (r) => r.load?.rps;
const p50: Metric = (r) => r.load?.p50Ms;
const p99: Metric = (r) => r.load?.p99Ms;
const cpuPerRequest: Metric = (r) => r.cpuUsPerRequest;

/** Usable records of one scenario and row: those that ran without problems. */
function clean(records: readonly RunRecord[], scenario: string, target: string): RunRecord[] {
  return records.filter(
    (r) => r.scenario === scenario && r.target === target && r.problems.length === 0 && r.load,
  );
}

/** Round-by-round `metric(target) / metric(reference)`, or difference when `subtract`. */
export function pairedValues(
  records: readonly RunRecord[],
  scenario: string,
  target: string,
  reference: string,
  metric: Metric,
  subtract = false,
): number[] {
  const refs = new Map(clean(records, scenario, reference).map((r) => [r.round, metric(r)]));
  const values: number[] = [];
  for (const record of clean(records, scenario, target)) {
    const value = metric(record);
    const ref = refs.get(record.round);
    if (value === undefined || ref === undefined) continue;
    values.push(subtract ? value - ref : value / ref);
  }

  return values;
}

function pairedMedian(values: readonly number[], digits: number): string {
  return values.length === 0 ? '-' : fixed(median(values), digits);
}

function memoryCell(rows: readonly RunRecord[]): string {
  const idle = median(defined(rows.map((r) => r.rssIdleMiB)));
  const after = median(defined(rows.map((r) => r.rssAfterMiB)));
  const peaks = defined(rows.map((r) => r.peakMiB));
  if (peaks.length === 0) return '-';

  return `${fixed(idle, 1)} / ${fixed(after, 1)} / ${fixed(Math.max(...peaks), 1)}`;
}

function errorCell(all: readonly RunRecord[]): string {
  const loads = defined(all.map((r) => r.load));
  const requests = loads.reduce((sum, load) => sum + load.requests, 0);
  const statuses = loads.reduce((sum, load) => sum + load.errorStatuses, 0);
  const sockets = loads.reduce((sum, load) => sum + load.socketErrors, 0);
  const share = requests === 0 ? 0 : (statuses / requests) * 100;

  return `${sockets} / ${fixed(share, share === 0 || share === 100 ? 0 : 2)} %`;
}

function runsCell(all: readonly RunRecord[], usable: number): string {
  const disturbed = all.filter((r) => r.disturbed).length;
  const foreign = defined(all.map((r) => r.foreignShare)).map((share) => share * 100);

  return `${usable}/${all.length}${disturbed ? `, ${disturbed} disturbed` : ''}, foreign ${spread(foreign, 0)} %`;
}

function references(scenario: Scenario): string[] {
  const names = scenario.targets.map((t) => t.name);

  return ['direct', 'nginx', 'fender-1host'].filter((name) => names.includes(name));
}

function closedLoopTable(scenario: Scenario, records: readonly RunRecord[]): string[] {
  const refs = references(scenario);
  const header = ['row', 'req/s median (min-max)', ...refs.map((ref) => `x ${ref}`)];
  header.push('p50 ms', 'p99 ms', 'CPU µs/req', 'CPU/req x nginx', 'CPU % core');
  header.push('RSS idle / after / peak MiB', 'socket errors / status >= 400', 'runs');
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const target of scenario.targets) {
    const all = records.filter((r) => r.scenario === scenario.name && r.target === target.name);
    if (all.length === 0) continue;
    const rows = clean(records, scenario.name, target.name);
    const ratios = refs.map((ref) =>
      pairedMedian(pairedValues(records, scenario.name, target.name, ref, rps), 2),
    );
    const cpuRatio = pairedValues(records, scenario.name, target.name, 'nginx', cpuPerRequest);
    const cells = [target.name, spread(defined(rows.map(rps)), 0), ...ratios];
    cells.push(fixed(median(defined(rows.map(p50))), 2), fixed(median(defined(rows.map(p99))), 2));
    cells.push(spread(defined(rows.map(cpuPerRequest)), 1), pairedMedian(cpuRatio, 2));
    cells.push(fixed(median(defined(rows.map((r) => r.cpuShareOfCore))) * 100, 0));
    cells.push(memoryCell(rows), errorCell(all), runsCell(all, rows.length));
    lines.push(`| ${cells.join(' | ')} |`);
  }

  return lines;
}

function fixedRateTable(scenario: Scenario, records: readonly RunRecord[]): string[] {
  const header = ['row', 'achieved req/s', 'p50 ms', 'p99 ms', 'added p50 / p99 ms vs direct'];
  header.push('added p99 vs nginx ms', 'CPU µs/req', 'CPU % core', 'RSS idle / after / peak MiB');
  header.push('socket errors / status >= 400', 'runs');
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const target of scenario.targets) {
    const all = records.filter((r) => r.scenario === scenario.name && r.target === target.name);
    if (all.length === 0) continue;
    const rows = clean(records, scenario.name, target.name);
    const added = (metric: Metric, ref: string): string =>
      pairedMedian(pairedValues(records, scenario.name, target.name, ref, metric, true), 2);
    const cells = [target.name, spread(defined(rows.map(rps)), 0)];
    cells.push(spread(defined(rows.map(p50)), 2), spread(defined(rows.map(p99)), 2));
    cells.push(`${added(p50, 'direct')} / ${added(p99, 'direct')}`, added(p99, 'nginx'));
    cells.push(spread(defined(rows.map(cpuPerRequest)), 1));
    cells.push(fixed(median(defined(rows.map((r) => r.cpuShareOfCore))) * 100, 0));
    cells.push(memoryCell(rows), errorCell(all), runsCell(all, rows.length));
    lines.push(`| ${cells.join(' | ')} |`);
  }

  return lines;
}

/** Formats the table of one scenario, with its problems listed under it. */
export function scenarioReport(scenario: Scenario, records: readonly RunRecord[]): string {
  const mine = records.filter((r) => r.scenario === scenario.name);
  const table =
    scenario.rate === undefined ? closedLoopTable(scenario, mine) : fixedRateTable(scenario, mine);
  const problems = mine.flatMap((r) =>
    r.problems.map((problem) => `- ${r.target}, round ${r.round}: ${problem}`),
  );

  return [`### ${scenario.name}: ${scenario.title}`, '', ...table, '', ...problems].join('\n');
}

interface Goal {
  readonly name: string;
  readonly target: string;
  /** The measured value as text, or undefined when the rows it needs did not run. */
  readonly measured?: string;
  readonly met?: boolean;
}

function ratioGoal(
  name: string,
  target: string,
  values: readonly number[],
  isMet: (value: number) => boolean,
  digits = 2,
): Goal {
  if (values.length === 0) return { name, target };
  const value = median(values);

  return { name, target, measured: fixed(value, digits), met: isMet(value) };
}

function goals(records: readonly RunRecord[]): Goal[] {
  const fenderPeaks = defined(records.filter((r) => r.kind === 'fender').map((r) => r.peakMiB));
  const idle = defined(clean(records, 'get', 'fender').map((r) => r.rssIdleMiB));

  return [
    ratioGoal(
      'pass-through req/s x nginx (get)',
      '>= 0.60',
      pairedValues(records, 'get', 'fender', 'nginx', rps),
      (v) => v >= 0.6,
    ),
    ratioGoal(
      'pass-through req/s x node-undici reference (get)',
      '>= 1.00',
      pairedValues(records, 'get', 'fender', 'node-undici', rps),
      (v) => v >= 1,
    ),
    ratioGoal(
      'added p99 over direct at 2,000 req/s, ms (get-2000)',
      '< 1.00',
      pairedValues(records, 'get-2000', 'fender', 'direct', p99, true),
      (v) => v < 1,
    ),
    ratioGoal('RSS idle, MiB (get)', '< 64', idle, (v) => v < 64, 1),
    {
      name: 'RSS peak (VmHWM) over every Fender run, MiB',
      target: '< 128',
      ...(fenderPeaks.length > 0
        ? { measured: fixed(Math.max(...fenderPeaks), 1), met: Math.max(...fenderPeaks) < 128 }
        : {}),
    },
    ratioGoal(
      'cache hit req/s x direct (cache-hit)',
      '>= 1.00',
      pairedValues(records, 'cache-hit', 'fender', 'direct', rps),
      (v) => v >= 1,
    ),
    ratioGoal(
      '1,000 hosts req/s x 1 host (hosts-1000)',
      '>= 0.98',
      pairedValues(records, 'hosts-1000', 'fender', 'fender-1host', rps),
      (v) => v >= 0.98,
    ),
    ratioGoal(
      '1,000 hosts CPU/req x 1 host (hosts-1000)',
      '<= 1.02',
      pairedValues(records, 'hosts-1000', 'fender', 'fender-1host', cpuPerRequest),
      (v) => v <= 1.02,
    ),
  ];
}

export function goalsReport(records: readonly RunRecord[]): string {
  const lines = ['| goal | target | measured | status |', '|---|---|---|---|'];
  for (const goal of goals(records)) {
    let status = 'not measured';
    if (goal.met !== undefined) status = goal.met ? 'met' : 'NOT met';
    lines.push(`| ${goal.name} | ${goal.target} | ${goal.measured ?? '-'} | ${status} |`);
  }

  return lines.join('\n');
}

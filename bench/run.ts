// `npm run bench`: Fender against a direct call, nginx and a minimal Node.js
// proxy, every process on loopback, in interleaved rounds so the machine's
// drift hits every row alike. Prints Markdown tables; `--help` lists options.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killChildrenOnExit, listeningPort, startChild } from './children.ts';
import { chooseLoadGenerator } from './loadgen.ts';
import type { LoadGeneratorName } from './loadgen.ts';
import { measureRun } from './measure.ts';
import type { MeasureContext, RunRecord } from './measure.ts';
import { parseOptions, USAGE } from './options.ts';
import type { BenchOptions } from './options.ts';
import { goalsReport, scenarioReport } from './report.ts';
import { allScenarios, FLAKY_FAIL_RATE } from './scenarios.ts';
import type { Scenario } from './scenarios.ts';
import { fenderInstalled, findNginx } from './targets.ts';
import type { TargetSpec } from './targets.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Time a run needs beyond warm-up and measurement: start, readiness, checks, stop. */
const RUN_OVERHEAD_S = 3;

/** First line a `--version`-style command prints, on stdout or stderr (nginx -v uses stderr). */
function versionOf(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  const text = `${result.stdout ?? ''}\n${result.stderr ?? ''}`;

  return text.split('\n').find((line) => line.trim() !== '') ?? 'unknown';
}

function machineReport(loadgen: LoadGeneratorName, options: BenchOptions): string {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown';
  const nginx = findNginx();
  const pinning = options.pin
    ? 'proxy on cpu0; upstream and load generator on cpu1 (taskset)'
    : 'none (PIN=0, no taskset or fewer than 2 CPUs)';

  return [
    `- machine: ${availableParallelism()} CPUs (${model}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}`,
    `- node ${process.version}; nginx: ${nginx ? versionOf(nginx, ['-v']) : 'not installed'}`,
    `- load generator: ${
      loadgen === 'wrk'
        ? versionOf('wrk', ['-v'])
        : options.loadgen === 'autocannon'
          ? 'autocannon (devDependency), chosen with LOADGEN'
          : 'autocannon (devDependency); wrk is used when installed (Debian: apt-get install wrk)'
    }`,
    `- pinning: ${pinning}`,
    `- Fender: log level ${options.fenderLogLevel}, Node.js flags: ${options.fenderNodeFlags.join(' ') || 'none'}`,
    `- ${options.rounds} round(s), ${options.warmupS} s warm-up + ${options.durationS} s per run, ` +
      `${options.connections} connections; fixed rate: ${
        loadgen === 'wrk'
          ? 'exponential think time per connection (Lua script)'
          : 'autocannon --overallRate, latencies in whole ms'
      }`,
    `- foreign CPU limit ${options.foreignLimit * 100} % of a core, waits up to ${options.quietWaitS} s ` +
      `for quiet, re-measures up to ${options.redo} time(s)`,
  ].join('\n');
}

function selectScenarios(all: Scenario[], selected: readonly string[]): Scenario[] {
  const unknown = selected.filter((name) => !all.some((s) => s.name === name));
  if (unknown.length > 0) {
    const names = all.map((s) => s.name).join(', ');
    throw new Error(`unknown scenario ${unknown.join(', ')}: choose from ${names}`);
  }

  return selected.length === 0 ? all : all.filter((s) => selected.includes(s.name));
}

/** Drops rows that cannot run here or were not selected, and records why each was dropped. */
function selectTargets(
  scenarios: Scenario[],
  selected: readonly string[],
  skipped: Map<string, string>,
): Scenario[] {
  const keep = (target: TargetSpec): boolean => {
    if (selected.length > 0 && !selected.includes(target.name)) return false;
    if (target.kind === 'fender' && !fenderInstalled()) {
      skipped.set(target.name, 'bin/fender.ts does not exist yet');

      return false;
    }
    if (target.kind === 'nginx' && findNginx() === undefined) {
      skipped.set(target.name, 'nginx is not installed (Debian: apt-get install nginx-light)');

      return false;
    }

    return true;
  };

  return scenarios.map((scenario) => ({ ...scenario, targets: scenario.targets.filter(keep) }));
}

function progressLine(done: number, total: number, record: RunRecord): string {
  const head = `[${done}/${total}] round ${record.round} ${record.scenario} ${record.target}:`;
  const load = record.load;
  const figures = load
    ? ` ${load.rps.toFixed(0)} req/s, p50 ${load.p50Ms.toFixed(2)} ms, p99 ${load.p99Ms.toFixed(2)} ms` +
      (record.cpuUsPerRequest === undefined
        ? ''
        : `, ${record.cpuUsPerRequest.toFixed(1)} µs CPU/req`) +
      `, foreign CPU ${((record.foreignShare ?? 0) * 100).toFixed(0)} %`
    : '';
  const problems =
    record.problems.length > 0 ? `\n    PROBLEM: ${record.problems.join('\n    PROBLEM: ')}` : '';

  return head + figures + problems;
}

async function startUpstream(cpu: string | undefined): Promise<{ pid: number; port: number }> {
  const args = [join(ROOT, 'bench', 'upstream.ts'), '--fail-rate', String(FLAKY_FAIL_RATE)];
  args.push('--exit-on-stdin-close');
  const child = startChild('upstream', process.execPath, args, { cpu, stdout: 'pipe' });

  return { pid: child.pid, port: await listeningPort(child, 10_000) };
}

function writeResults(
  options: BenchOptions,
  records: readonly RunRecord[],
  header: string,
): string {
  const file =
    options.json ??
    join(ROOT, 'bench', 'results', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({ header, options, records }, null, 2) + '\n');

  return file;
}

function printResults(
  scenarios: readonly Scenario[],
  records: readonly RunRecord[],
  quick: boolean,
): void {
  process.stdout.write('\n## Results\n\n');
  if (quick) {
    process.stdout.write(
      'Quick mode: a smoke check of the harness and the rows, not a measurement.\n\n',
    );
  }
  for (const scenario of scenarios) {
    process.stdout.write(scenarioReport(scenario, records) + '\n\n');
  }
  process.stdout.write(`## Goals (Fender)\n\n${goalsReport(records)}\n\n`);
}

/** Prints the tables of a results file written by an earlier run. */
function reprint(file: string): number {
  const saved = JSON.parse(readFileSync(file, 'utf8')) as {
    header: string;
    options: BenchOptions;
    records: RunRecord[];
  };
  const ran = (scenario: Scenario): Scenario => ({
    ...scenario,
    targets: scenario.targets.filter((t) => saved.records.some((r) => r.target === t.name)),
  });
  const scenarios = allScenarios('http://127.0.0.1:0')
    .filter((s) => saved.records.some((r) => r.scenario === s.name))
    .map(ran);
  process.stdout.write(`## Fender benchmark\n\n${saved.header}\n`);
  printResults(scenarios, saved.records, saved.options.quick);

  return 0;
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2), process.env);
  if (options === 'help') {
    process.stdout.write(USAGE);

    return 0;
  }
  if (options.report !== undefined) return reprint(options.report);
  killChildrenOnExit();
  const loadgen = chooseLoadGenerator(options.loadgen);
  const dir = mkdtempSync(join(tmpdir(), 'fender-bench-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const proxyCpu = options.pin ? '0' : undefined;
  const loadCpu = options.pin ? '1' : undefined;
  const upstream = await startUpstream(loadCpu);
  const origin = `http://127.0.0.1:${upstream.port}`;
  const skipped = new Map<string, string>();
  const chosen = selectScenarios(allScenarios(origin), options.scenarios);
  const scenarios = selectTargets(chosen, options.targets, skipped);

  const header = machineReport(loadgen, options);
  process.stdout.write(`## Fender benchmark\n\n${header}\n`);
  for (const [name, reason] of skipped) process.stdout.write(`- row ${name} skipped: ${reason}\n`);
  const perRound = scenarios.reduce((sum, s) => sum + s.targets.length, 0);
  const total = perRound * options.rounds;
  const runS = options.warmupS + options.durationS + RUN_OVERHEAD_S;
  const worstS =
    total * (runS + options.durationS * options.redo + options.quietWaitS * (1 + options.redo));
  process.stdout.write(
    `- ${total} runs, about ${Math.ceil((total * runS) / 60)} min (at most ${Math.ceil(worstS / 60)} min)\n\n`,
  );
  const limit = setTimeout(
    () => {
      process.stderr.write(`time limit of ${Math.ceil(worstS + 120)} s reached; stopping\n`);
      process.exit(1);
    },
    (worstS + 120) * 1000,
  );
  limit.unref();

  const ctx: MeasureContext = { options, loadgen, upstream, dir, proxyCpu, loadCpu };
  const records: RunRecord[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    for (const scenario of scenarios) {
      for (const target of scenario.targets) {
        const record = await measureRun(scenario, target, round, ctx);
        records.push(record);
        process.stdout.write(progressLine(records.length, total, record) + '\n');
      }
    }
  }
  clearTimeout(limit);

  printResults(scenarios, records, options.quick);
  const failed = records.filter((r) => r.problems.length > 0).length;
  process.stdout.write(`raw results: ${writeResults(options, records, header)}\n`);
  process.stdout.write(`${records.length - failed} runs clean, ${failed} with problems\n`);

  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`bench failed: ${err.message}\n`);
    process.exit(1);
  },
);

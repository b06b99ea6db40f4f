// One run: a fresh proxy process for one scenario and row, its idle memory,
// a warm-up, a behaviour check, then the measured load with the proxy's CPU
// time, its memory after the load and the machine's foreign CPU.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LoadGeneratorName, LoadResult, LoadSpec } from './loadgen.ts';
import { runLoad } from './loadgen.ts';
import type { BenchOptions } from './options.ts';
import { cpuSeconds, machineBusySeconds, memory, reapedChildrenCpuSeconds } from './proc-stats.ts';
import { probe } from './probe.ts';
import type { Scenario } from './scenarios.ts';
import type { RunningTarget, TargetKind, TargetSpec } from './targets.ts';
import { startTarget } from './targets.ts';

export interface RunRecord {
  readonly scenario: string;
  readonly target: string;
  readonly kind: TargetKind;
  readonly round: number;
  load?: LoadResult;
  /** The proxy's CPU time over the measured load, in seconds. */
  cpuS?: number;
  cpuUsPerRequest?: number;
  /** CPU time over wall time of the measured load: 1.0 is one full core. */
  cpuShareOfCore?: number;
  rssIdleMiB?: number;
  rssAfterMiB?: number;
  peakMiB?: number;
  /** CPU used by other processes on the machine during the load, as a share of one core. */
  foreignShare?: number;
  /** Measurements thrown away because foreign CPU exceeded the limit. */
  redone: number;
  /** Set when the last measurement still exceeded the foreign CPU limit. */
  disturbed: boolean;
  /** Anything that makes the run's figures untrustworthy; empty when clean. */
  readonly problems: string[];
}

export interface MeasureContext {
  readonly options: BenchOptions;
  readonly loadgen: LoadGeneratorName;
  readonly upstream: { readonly pid: number; readonly port: number };
  /** Temp dir for configs and scripts. */
  readonly dir: string;
  /** taskset CPU of the proxy, and of the upstream and load generator. */
  readonly proxyCpu?: string;
  readonly loadCpu?: string;
}

/** CPU seconds of everything the benchmark itself runs, except the proxy. */
function ownCpuSeconds(ctx: MeasureContext): number {
  const self = process.cpuUsage();

  return (
    cpuSeconds([ctx.upstream.pid]) + reapedChildrenCpuSeconds() + (self.user + self.system) / 1e6
  );
}

/** Samples one second of foreign CPU: busy time not spent by us or by `pids`. */
async function foreignShareNow(ctx: MeasureContext, pids: readonly number[]): Promise<number> {
  const busy = machineBusySeconds();
  const ours = ownCpuSeconds(ctx) + cpuSeconds(pids);
  const started = performance.now();
  await sleep(1000);
  const seconds = (performance.now() - started) / 1000;
  const foreign = machineBusySeconds() - busy - (ownCpuSeconds(ctx) + cpuSeconds(pids) - ours);

  return Math.max(0, foreign) / seconds;
}

/** Waits until the machine's foreign CPU is under the limit, or `quietWaitS` has passed. */
async function waitForQuiet(ctx: MeasureContext): Promise<void> {
  const deadline = Date.now() + ctx.options.quietWaitS * 1000;
  while (Date.now() < deadline) {
    if ((await foreignShareNow(ctx, [])) <= ctx.options.foreignLimit) return;
  }
}

function loadSpec(
  scenario: Scenario,
  port: number,
  ctx: MeasureContext,
  durationS: number,
): LoadSpec {
  return { ...scenario.request, port, connections: ctx.options.connections, durationS };
}

interface Measurement {
  readonly load: LoadResult;
  readonly cpuS: number;
  readonly wallS: number;
  readonly foreignShare: number;
}

async function measureLoad(
  scenario: Scenario,
  target: RunningTarget,
  ctx: MeasureContext,
): Promise<Measurement> {
  const spec = {
    ...loadSpec(scenario, target.port, ctx, ctx.options.durationS),
    rate: scenario.rate,
  };
  const pids = target.pids();
  const busy = machineBusySeconds();
  const ours = ownCpuSeconds(ctx);
  const proxy = cpuSeconds(pids);
  const started = performance.now();
  const load = await runLoad(ctx.loadgen, spec, { cpu: ctx.loadCpu, scriptDir: ctx.dir });
  const wallS = (performance.now() - started) / 1000;
  const cpuS = cpuSeconds(pids) - proxy;
  const foreign = machineBusySeconds() - busy - cpuS - (ownCpuSeconds(ctx) - ours);

  return { load, cpuS, wallS, foreignShare: Math.max(0, foreign) / wallS };
}

function checkErrors(scenario: Scenario, spec: TargetSpec, load: LoadResult): string[] {
  const problems: string[] = [];
  if (load.requests === 0) problems.push('no request completed');
  if (load.socketErrors > 0) problems.push(`${load.socketErrors} socket errors or timeouts`);
  const [low, high] = scenario.expectedErrorShare?.(spec) ?? [0, 0];
  const share = load.requests === 0 ? 0 : load.errorStatuses / load.requests;
  if (share < low || share > high) {
    problems.push(
      `${load.errorStatuses} of ${load.requests} responses had status >= 400 ` +
        `(share ${share.toFixed(4)}, expected ${low} to ${high})`,
    );
  }

  return problems;
}

async function checkFenderMetrics(scenario: Scenario, target: RunningTarget): Promise<string[]> {
  if (scenario.checkMetrics === undefined || target.metricsPort === undefined) return [];
  const res = await probe({ port: target.metricsPort, path: '/metrics' });
  const problem =
    res.status === 200 ? scenario.checkMetrics(res.body) : `GET /metrics: ${res.status}`;

  return problem === undefined ? [] : [problem];
}

/** Fills `record` from one started target; the caller stops the target. */
async function exercise(
  scenario: Scenario,
  target: RunningTarget,
  ctx: MeasureContext,
  record: RunRecord,
): Promise<void> {
  const proxied = target.spec.kind !== 'direct';
  const request = { ...scenario.request, port: target.port };
  await probe(request);
  if (proxied) record.rssIdleMiB = memory(target.pids()).rssMiB;
  if (ctx.options.warmupS > 0) {
    const warmup = loadSpec(scenario, target.port, ctx, ctx.options.warmupS);
    await runLoad(ctx.loadgen, warmup, { cpu: ctx.loadCpu, scriptDir: ctx.dir });
  }
  const problem = scenario.check(target.spec, await probe(request));
  if (problem !== undefined) record.problems.push(`check after warm-up: ${problem}`);

  let run = await measureLoad(scenario, target, ctx);
  while (run.foreignShare > ctx.options.foreignLimit && record.redone < ctx.options.redo) {
    record.redone += 1;
    await waitForQuiet(ctx);
    run = await measureLoad(scenario, target, ctx);
  }
  record.load = run.load;
  record.foreignShare = run.foreignShare;
  record.disturbed = run.foreignShare > ctx.options.foreignLimit;
  record.problems.push(...checkErrors(scenario, target.spec, run.load));
  if (!proxied) return;
  record.cpuS = run.cpuS;
  record.cpuShareOfCore = run.cpuS / run.wallS;
  record.cpuUsPerRequest = run.load.requests > 0 ? (run.cpuS * 1e6) / run.load.requests : undefined;
  const after = memory(target.pids());
  record.rssAfterMiB = after.rssMiB;
  record.peakMiB = after.peakMiB;
  if (!target.alive()) record.problems.push('the proxy process died during the run');
  record.problems.push(...(await checkFenderMetrics(scenario, target)));
}

/** Runs one scenario against one row with a fresh process; failures land in `problems`. */
export async function measureRun(
  scenario: Scenario,
  spec: TargetSpec,
  round: number,
  ctx: MeasureContext,
): Promise<RunRecord> {
  const record: RunRecord = {
    scenario: scenario.name,
    target: spec.name,
    kind: spec.kind,
    round,
    redone: 0,
    disturbed: false,
    problems: [],
  };
  await waitForQuiet(ctx);
  let target: RunningTarget | undefined;
  try {
    target = await startTarget(spec, {
      upstreamPort: ctx.upstream.port,
      dir: ctx.dir,
      cpu: ctx.proxyCpu,
      fenderLogLevel: ctx.options.fenderLogLevel,
      fenderNodeFlags: ctx.options.fenderNodeFlags,
    });
    await exercise(scenario, target, ctx, record);
  } catch (err) {
    record.problems.push((err as Error).message);
  } finally {
    await target?.stop();
  }

  return record;
}

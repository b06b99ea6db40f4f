// Benchmark options: command-line flags first, then environment variables,
// then defaults (a quick mode changes the defaults, not explicit values).
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { canPin } from './children.ts';

export interface BenchOptions {
  readonly rounds: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly connections: number;
  /** Scenario names to run; every scenario when empty. */
  readonly scenarios: readonly string[];
  /** Row names to run (`direct`, `fender`, `nginx` ...); every row when empty. */
  readonly targets: readonly string[];
  readonly loadgen: string | undefined;
  /** Proxy on cpu0, upstream and load generator on cpu1. */
  readonly pin: boolean;
  /** Longest wait for a quiet machine before each run, in seconds. */
  readonly quietWaitS: number;
  /** How many times a run with too much foreign CPU is measured again. */
  readonly redo: number;
  /** Foreign CPU above this share of one core marks a run as disturbed. */
  readonly foreignLimit: number;
  readonly fenderLogLevel: string;
  /** Node.js flags for Fender's process. */
  readonly fenderNodeFlags: readonly string[];
  readonly quick: boolean;
  /** Where the raw results go as JSON; a default path under bench/results/ when absent. */
  readonly json: string | undefined;
  /** A results JSON file to print the tables of, instead of running. */
  readonly report: string | undefined;
}

export const USAGE = `usage: npm run bench -- [options]   (each option also reads the environment variable shown)

  --rounds N          ROUNDS       interleaved rounds (default 3; quick 1)
  --duration S        DURATION     seconds per measured run (default 10; quick 3)
  --warmup S          WARMUP       seconds of closed-loop warm-up per run (default 3; quick 1)
  --connections N     CONNECTIONS  connections of the load generator (default 50)
  --scenarios LIST    SCENARIOS    comma-separated subset, e.g. get,get-2000,cache-hit
  --targets LIST      TARGETS      comma-separated rows, e.g. direct,fender,nginx
  --loadgen NAME      LOADGEN      wrk or autocannon (default: wrk when installed)
  --no-pin            PIN=0        do not pin the proxy to cpu0 and the load to cpu1
  --quiet-wait S      QUIET_WAIT   max seconds to wait for a quiet machine per run (default 30; quick 0)
  --redo N            REDO         re-measure a disturbed run up to N times (default 1; quick 0)
  --log-level LEVEL   FENDER_LOG_LEVEL  Fender's log level during the runs (default info)
  --node-flags FLAGS  FENDER_NODE_FLAGS Node.js flags for Fender, e.g. "--max-semi-space-size=32"
  --json FILE         BENCH_JSON   write raw results here (default bench/results/bench-TIME.json)
  --quick             QUICK=1      a short smoke run of every scenario
  --report FILE                    print the tables of a saved results file and exit
                      NGINX        path of the nginx binary, or none to leave the nginx rows out
`;

function number(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) {
    throw new Error(`${name} must be a number of at least ${min}, got ${JSON.stringify(raw)}`);
  }

  return value;
}

function list(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(/[\s,]+/)
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

export function parseOptions(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      rounds: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      scenarios: { type: 'string' },
      targets: { type: 'string' },
      loadgen: { type: 'string' },
      'no-pin': { type: 'boolean' },
      'quiet-wait': { type: 'string' },
      redo: { type: 'string' },
      'log-level': { type: 'string' },
      'node-flags': { type: 'string' },
      json: { type: 'string' },
      quick: { type: 'boolean' },
      report: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const quick = values.quick === true || env.QUICK === '1';
  const pinWanted = values['no-pin'] !== true && env.PIN !== '0';

  return {
    rounds: Math.floor(number('ROUNDS', values.rounds ?? env.ROUNDS, quick ? 1 : 3, 1)),
    durationS: Math.floor(number('DURATION', values.duration ?? env.DURATION, quick ? 3 : 10, 1)),
    warmupS: Math.floor(number('WARMUP', values.warmup ?? env.WARMUP, quick ? 1 : 3, 0)),
    connections: Math.floor(number('CONNECTIONS', values.connections ?? env.CONNECTIONS, 50, 1)),
    scenarios: list(values.scenarios ?? env.SCENARIOS),
    targets: list(values.targets ?? env.TARGETS),
    loadgen: values.loadgen ?? env.LOADGEN,
    pin: pinWanted && canPin() && availableParallelism() >= 2,
    quietWaitS: number('QUIET_WAIT', values['quiet-wait'] ?? env.QUIET_WAIT, quick ? 0 : 30, 0),
    redo: Math.floor(number('REDO', values.redo ?? env.REDO, quick ? 0 : 1, 0)),
    foreignLimit: number('FOREIGN_LIMIT', env.FOREIGN_LIMIT, 0.15, 0),
    fenderLogLevel: values['log-level'] ?? env.FENDER_LOG_LEVEL ?? 'info',
    fenderNodeFlags: (values['node-flags'] ?? env.FENDER_NODE_FLAGS ?? '')
      .split(/\s+/)
      .filter(Boolean),
    quick,
    json: values.json ?? env.BENCH_JSON,
    report: values.report,
  };
}

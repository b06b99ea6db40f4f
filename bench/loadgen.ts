// The load generator, one process per run: wrk when installed (a Lua script
// sets the request, the fixed-rate think time and a JSON summary line),
// autocannon from devDependencies otherwise.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startChild, stopChild } from './children.ts';

export type LoadGeneratorName = 'wrk' | 'autocannon';

export interface LoadSpec {
  readonly port: number;
  readonly path: string;
  readonly method: string;
  /** The Host header; the proxies route on it. */
  readonly host: string;
  readonly body?: Buffer;
  readonly contentType?: string;
  readonly connections: number;
  readonly durationS: number;
  /** Offered rate in requests per second; closed loop when absent. */
  readonly rate?: number;
}

export interface LoadResult {
  readonly requests: number;
  readonly durationS: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Connect, read, write errors and timeouts. */
  readonly socketErrors: number;
  /** Responses with a status of 400 or more (wrk counts these; 3xx never occur here). */
  readonly errorStatuses: number;
}

const AUTOCANNON = fileURLToPath(
  new URL('../node_modules/autocannon/autocannon.js', import.meta.url),
);
const WRK = ['/usr/bin/wrk', '/usr/local/bin/wrk'].find((path) => existsSync(path));
const RESULT_MARK = 'BENCH-RESULT ';

/** Returns the generator to use: `requested` if set and available, else wrk, else autocannon. */
export function chooseLoadGenerator(requested: string | undefined): LoadGeneratorName {
  if (requested === 'wrk' && WRK === undefined) {
    throw new Error('LOADGEN=wrk but wrk is not installed: run `apt-get install wrk`');
  }
  if (requested !== undefined && requested !== 'wrk' && requested !== 'autocannon') {
    throw new Error(`LOADGEN must be wrk or autocannon, got ${JSON.stringify(requested)}`);
  }
  if (requested === 'autocannon' || WRK === undefined) return 'autocannon';

  return 'wrk';
}

function luaString(text: string): string {
  return JSON.stringify(text);
}

/**
 * Builds the wrk script. For a fixed rate every connection waits an
 * exponentially distributed think time (mean connections/rate) before each
 * request, so arrivals are Poisson-like; wrk starts the latency clock when the
 * request is written, so think time is not counted. wrk truncates the delay to
 * whole milliseconds, which roughly offsets its timers firing late: a direct
 * run on the 2-vCPU benchmark VM achieved 1993-2021 req/s offered 2,000 and
 * 4994-5025 offered 5,000.
 */
export function wrkScript(spec: LoadSpec): string {
  const lines = [
    `wrk.method = ${luaString(spec.method)}`,
    `wrk.path = ${luaString(spec.path)}`,
    `wrk.headers["Host"] = ${luaString(spec.host)}`,
  ];
  if (spec.body !== undefined) {
    lines.push(`wrk.body = string.rep("x", ${spec.body.length})`);
    lines.push(`wrk.headers["Content-Type"] = ${luaString(spec.contentType ?? 'text/plain')}`);
  }
  if (spec.rate !== undefined) {
    const meanMs = (spec.connections * 1000) / spec.rate;
    lines.push(
      'math.randomseed(os.time())',
      `local mean_ms = ${meanMs}`,
      'function delay() return -math.log(1 - math.random()) * mean_ms end',
    );
  }
  lines.push(
    'function done(summary, latency, requests)',
    '  local e = summary.errors',
    `  io.write(string.format('${RESULT_MARK}{"requests":%d,"durationUs":%d,"connect":%d,"read":%d,` +
      `"write":%d,"status":%d,"timeout":%d,"p50Us":%.1f,"p99Us":%.1f}\\n',`,
    '    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,',
    '    latency:percentile(50), latency:percentile(99)))',
    'end',
  );

  return lines.join('\n') + '\n';
}

interface WrkSummary {
  requests: number;
  durationUs: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  p50Us: number;
  p99Us: number;
}

/** Reads the summary line the wrk script's done() prints. */
export function parseWrkOutput(stdout: string): LoadResult {
  const line = stdout.split('\n').find((text) => text.startsWith(RESULT_MARK));
  if (line === undefined) throw new Error(`wrk printed no summary line:\n${stdout.slice(-2000)}`);
  const s = JSON.parse(line.slice(RESULT_MARK.length)) as WrkSummary;
  const durationS = s.durationUs / 1e6;

  return {
    requests: s.requests,
    durationS,
    rps: s.requests / durationS,
    p50Ms: s.p50Us / 1000,
    p99Ms: s.p99Us / 1000,
    socketErrors: s.connect + s.read + s.write + s.timeout,
    errorStatuses: s.status,
  };
}

interface AutocannonSummary {
  requests: { total: number };
  duration: number;
  latency: { p50: number; p99: number };
  errors: number;
  timeouts: number;
  '4xx': number;
  '5xx': number;
}

/** Reads autocannon's `--json` report. */
export function parseAutocannonOutput(stdout: string): LoadResult {
  const start = stdout.indexOf('{');
  if (start === -1) throw new Error(`autocannon printed no JSON:\n${stdout.slice(-2000)}`);
  const s = JSON.parse(stdout.slice(start)) as AutocannonSummary;

  return {
    requests: s.requests.total,
    durationS: s.duration,
    rps: s.requests.total / s.duration,
    p50Ms: s.latency.p50,
    p99Ms: s.latency.p99,
    socketErrors: s.errors + s.timeouts,
    errorStatuses: s['4xx'] + s['5xx'],
  };
}

async function wrkArgs(spec: LoadSpec, scriptDir: string): Promise<string[]> {
  const script = join(scriptDir, `wrk-${process.pid}-${Date.now()}.lua`);
  await writeFile(script, wrkScript(spec));
  const url = `http://127.0.0.1:${spec.port}${spec.path}`;

  return [
    '-t1',
    `-c${spec.connections}`,
    `-d${spec.durationS}s`,
    '--timeout',
    '5s',
    '-s',
    script,
    url,
  ];
}

function autocannonArgs(spec: LoadSpec): string[] {
  const args = [AUTOCANNON, '--json', '--no-progress', '-c', String(spec.connections)];
  args.push('-d', String(spec.durationS), '-m', spec.method, '-H', `host=${spec.host}`);
  if (spec.rate !== undefined) args.push('-R', String(spec.rate));
  if (spec.body !== undefined) {
    args.push('-H', `content-type=${spec.contentType ?? 'text/plain'}`);
    args.push('-b', 'x'.repeat(spec.body.length));
  }
  args.push(`http://127.0.0.1:${spec.port}${spec.path}`);

  return args;
}

/** Runs one load generator process to completion and returns its figures. */
export async function runLoad(
  generator: LoadGeneratorName,
  spec: LoadSpec,
  options: { readonly cpu?: string; readonly scriptDir: string },
): Promise<LoadResult> {
  const command = generator === 'wrk' ? (WRK as string) : process.execPath;
  const args = generator === 'wrk' ? await wrkArgs(spec, options.scriptDir) : autocannonArgs(spec);
  const child = startChild(generator, command, args, { cpu: options.cpu, stdout: 'pipe' });
  // 'close' comes after the last stdout data, unlike 'exit'.
  const closed = new Promise<void>((resolve) => child.process.once('close', () => resolve()));
  let stdout = '';
  child.process.stdout?.setEncoding('utf8');
  child.process.stdout?.on('data', (text: string) => {
    stdout += text;
  });
  const limitMs = (spec.durationS + 20) * 1000;
  const timer = setTimeout(() => void stopChild(child), limitMs);
  const code = await child.exited;
  await closed;
  clearTimeout(timer);
  if (code !== 0) {
    throw new Error(
      `${generator} exited with ${code} (limit ${limitMs} ms):\n${child.stderrTail()}`,
    );
  }

  return generator === 'wrk' ? parseWrkOutput(stdout) : parseAutocannonOutput(stdout);
}

// `node bench/profile.ts`: where Fender's CPU goes on the pass-through path.
// Runs the agent under `node --cpu-prof` for one closed-loop GET 1 KiB run
// (same rig and pinning as the benchmark), stops it so V8 writes the
// profile, and prints self time by area and by function.
import {
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { canPin, freePort, killChildrenOnExit, listeningPort, startChild } from './children.ts';
import type { Child } from './children.ts';
import { fenderConfigYaml } from './configs.ts';
import { profileReport, summarizeProfile } from './cpuprofile.ts';
import type { CpuProfile } from './cpuprofile.ts';
import { chooseLoadGenerator, runLoad } from './loadgen.ts';
import { cpuSeconds } from './proc-stats.ts';
import { probe, waitUntilReady } from './probe.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const USAGE = `usage: node bench/profile.ts [--duration S] [--connections N] [--top N] [--out FILE]
    [--loadgen wrk|autocannon] [--log-level LEVEL] [--node-flags FLAGS] [--no-pin]

Profiles Fender (node --cpu-prof) under a closed-loop GET 1 KiB pass-through load
and prints self time by area and function. --out keeps the .cpuprofile
(open it in Chrome DevTools or VS Code).
`;
/** Time Fender gets to exit after SIGTERM; its config bounds the drain to 1 s. */
const EXIT_TIMEOUT_MS = 10_000;

async function startFender(
  dir: string,
  upstreamPort: number,
  cpu: string | undefined,
  flags: string[],
  logLevel: string,
): Promise<{ child: Child; port: number }> {
  const ports = { egress: await freePort(), control: await freePort(), metrics: await freePort() };
  const hosts = { 'pass.bench': { upstream: `http://127.0.0.1:${upstreamPort}` } };
  const config = join(dir, 'fender.yaml');
  writeFileSync(
    config,
    fenderConfigYaml(ports, hosts, logLevel, {
      lifecycle: { drainIdle: '0s', drainTimeout: '1s' },
    }),
  );
  const args = ['--cpu-prof', `--cpu-prof-dir=${join(dir, 'profile')}`, ...flags];
  args.push(join(ROOT, 'bin', 'fender.ts'), '--config', config);
  const child = startChild('fender', process.execPath, args, { cpu, cwd: ROOT });
  await waitUntilReady(child, ports.metrics, '/readyz', 15_000);

  return { child, port: ports.egress };
}

/** Sends SIGTERM and waits for the exit, which is when V8 writes the profile. */
async function stopForProfile(child: Child): Promise<void> {
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), EXIT_TIMEOUT_MS);
  const code = await child.exited;
  clearTimeout(timer);
  if (code !== 0)
    throw new Error(`fender exited with ${code} after SIGTERM:\n${child.stderrTail()}`);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '50' },
      top: { type: 'string', default: '25' },
      out: { type: 'string' },
      loadgen: { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      'node-flags': { type: 'string', default: '' },
      'no-pin': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);

    return 0;
  }
  killChildrenOnExit();
  const pin = !values['no-pin'] && canPin() && availableParallelism() >= 2;
  const loadgen = chooseLoadGenerator(values.loadgen ?? process.env.LOADGEN);
  const dir = mkdtempSync(join(tmpdir(), 'fender-profile-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));

  const upstreamArgs = [join(ROOT, 'bench', 'upstream.ts'), '--exit-on-stdin-close'];
  const upstream = startChild('upstream', process.execPath, upstreamArgs, {
    cpu: pin ? '1' : undefined,
    stdout: 'pipe',
  });
  const upstreamPort = await listeningPort(upstream, 10_000);
  const flags = values['node-flags'].split(/\s+/).filter(Boolean);
  const fender = await startFender(
    dir,
    upstreamPort,
    pin ? '0' : undefined,
    flags,
    values['log-level'],
  );
  const check = await probe({ port: fender.port, path: '/json', host: 'pass.bench' });
  if (check.status !== 200)
    throw new Error(`GET /json through Fender returned ${check.status}: ${check.body}`);

  const durationS = Number(values.duration);
  const cpuBefore = cpuSeconds([fender.child.pid]);
  const load = await runLoad(
    loadgen,
    {
      port: fender.port,
      path: '/json',
      method: 'GET',
      host: 'pass.bench',
      connections: Number(values.connections),
      durationS,
    },
    { cpu: pin ? '1' : undefined, scriptDir: dir },
  );
  const cpuS = cpuSeconds([fender.child.pid]) - cpuBefore;
  await stopForProfile(fender.child);

  const file = readdirSync(join(dir, 'profile')).find((name) => name.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error('node --cpu-prof wrote no .cpuprofile file');
  const path = join(dir, 'profile', file);
  if (values.out !== undefined) copyFileSync(path, values.out);
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  process.stdout.write(
    `## Fender CPU profile: GET 1 KiB pass-through, closed loop, c${values.connections}, ${durationS} s (${loadgen}${pin ? ', proxy pinned to cpu0' : ''})\n\n` +
      `${load.rps.toFixed(0)} req/s, p50 ${load.p50Ms.toFixed(2)} ms, p99 ${load.p99Ms.toFixed(2)} ms, ` +
      `${((cpuS * 1e6) / load.requests).toFixed(1)} µs CPU/req under the profiler ` +
      `(profiling itself adds CPU), ${load.socketErrors} socket errors, ${load.errorStatuses} status >= 400\n` +
      `${profileReport(summarizeProfile(profile, Number(values.top)))}\n` +
      (values.out === undefined ? '' : `\nprofile written to ${values.out}\n`),
  );

  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`profile failed: ${err.message}\n`);
    process.exit(1);
  },
);

// Starting and stopping what a load run is aimed at: the upstream itself
// (`direct`), Fender, nginx or the Node.js reference proxy, each a fresh
// process per run, pinned to the proxy CPU.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Child } from './children.ts';
import { freePort, listeningPort, startChild, stopChild } from './children.ts';
import { fenderConfigYaml, nginxConfig } from './configs.ts';
import type { FenderHostEntry, NginxSite } from './configs.ts';
import { processTree } from './proc-stats.ts';
import { waitUntilReady } from './probe.ts';

export type TargetKind = 'direct' | 'fender' | 'nginx' | 'node-undici';

export interface TargetSpec {
  /** Row name in the tables (`fender`, `fender-1host`, `nginx` ...). */
  readonly name: string;
  readonly kind: TargetKind;
  /** The `hosts:` map of the Fender config (kind `fender`). */
  readonly fenderHosts?: Readonly<Record<string, FenderHostEntry>>;
  /** The server blocks of the nginx config (kind `nginx`). */
  readonly nginxSites?: readonly NginxSite[];
}

export interface RunningTarget {
  readonly spec: TargetSpec;
  /** Port the load generator sends to. */
  readonly port: number;
  /** Port of Fender's metrics listener. */
  readonly metricsPort?: number;
  /** The proxy's processes now (nginx master and worker); empty for `direct`. */
  pids(): number[];
  /** False once the proxy process has exited. */
  alive(): boolean;
  stop(): Promise<void>;
}

export interface TargetContext {
  readonly upstreamPort: number;
  /** Directory for this run's config files. */
  readonly dir: string;
  readonly cpu?: string;
  readonly fenderLogLevel: string;
  /** Node.js flags for Fender's process, e.g. `--max-semi-space-size=32`. */
  readonly fenderNodeFlags: readonly string[];
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FENDER_ENTRY = join(ROOT, 'bin', 'fender.ts');
const REF_PROXY = join(ROOT, 'bench', 'ref-proxy.ts');
const START_TIMEOUT_MS = 15_000;

export function fenderInstalled(): boolean {
  return existsSync(FENDER_ENTRY);
}

/** The nginx binary: `$NGINX` when set (`none` hides nginx), else the first on PATH or /usr/sbin. */
export function findNginx(): string | undefined {
  const chosen = process.env.NGINX;
  if (chosen === 'none') return undefined;
  if (chosen !== undefined && chosen !== '') return existsSync(chosen) ? chosen : undefined;
  const onPath = (process.env.PATH ?? '').split(':').map((dir) => join(dir, 'nginx'));

  return [...onPath, '/usr/sbin/nginx'].find((path) => existsSync(path));
}

function running(
  spec: TargetSpec,
  port: number,
  child: Child,
  metricsPort?: number,
): RunningTarget {
  return {
    spec,
    port,
    metricsPort,
    pids: () => processTree(child.pid),
    alive: () => child.process.exitCode === null && child.process.signalCode === null,
    stop: () => stopChild(child),
  };
}

async function startFender(spec: TargetSpec, ctx: TargetContext): Promise<RunningTarget> {
  const ports = { egress: await freePort(), control: await freePort(), metrics: await freePort() };
  const configPath = join(ctx.dir, `${spec.name}.yaml`);
  await writeFile(configPath, fenderConfigYaml(ports, spec.fenderHosts ?? {}, ctx.fenderLogLevel));
  const args = [...ctx.fenderNodeFlags, FENDER_ENTRY, '--config', configPath];
  const child = startChild(spec.name, process.execPath, args, { cpu: ctx.cpu, cwd: ROOT });
  await waitUntilReady(child, ports.metrics, '/readyz', START_TIMEOUT_MS);

  return running(spec, ports.egress, child, ports.metrics);
}

async function startNginx(spec: TargetSpec, ctx: TargetContext): Promise<RunningTarget> {
  const nginx = findNginx();
  if (nginx === undefined) throw new Error('nginx is not installed: apt-get install nginx-light');
  const dir = join(ctx.dir, spec.name);
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const sites = spec.nginxSites ?? [{}];
  const conf = join(dir, 'nginx.conf');
  await writeFile(
    conf,
    nginxConfig({ dir, listenPort: port, upstreamPort: ctx.upstreamPort, sites }, nginx),
  );
  const args = ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')];
  const child = startChild(spec.name, nginx, args, { cpu: ctx.cpu });
  await waitUntilReady(child, port, '/healthz', START_TIMEOUT_MS);

  return running(spec, port, child);
}

async function startNodeUndici(spec: TargetSpec, ctx: TargetContext): Promise<RunningTarget> {
  const upstream = `http://127.0.0.1:${ctx.upstreamPort}`;
  const args = [REF_PROXY, '--upstream', upstream, '--exit-on-stdin-close'];
  const child = startChild(spec.name, process.execPath, args, { cpu: ctx.cpu, stdout: 'pipe' });
  const port = await listeningPort(child, START_TIMEOUT_MS);

  return running(spec, port, child);
}

export async function startTarget(spec: TargetSpec, ctx: TargetContext): Promise<RunningTarget> {
  switch (spec.kind) {
    case 'direct':
      return {
        spec,
        port: ctx.upstreamPort,
        pids: () => [],
        alive: () => true,
        stop: async () => {},
      };
    case 'fender':
      return startFender(spec, ctx);
    case 'nginx':
      return startNginx(spec, ctx);
    case 'node-undici':
      return startNodeUndici(spec, ctx);
  }
}

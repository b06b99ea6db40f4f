import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { K8S, ROOT } from './kustomize.ts';

// The real agent in its own process, for tests of what the image runs and
// what the agent exports. Its config is k8s/fender.yaml with loopback
// listeners on free ports and every upstream on a loopback address, so
// nothing leaves this machine.

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface AgentConfig {
  readonly dir: string;
  readonly path: string;
  readonly ports: { readonly egress: number; readonly control: number; readonly metrics: number };
  remove(): void;
}

/** Writes the example config with loopback listeners and upstreams into a temporary directory. */
export async function writeAgentConfig(upstream: string): Promise<AgentConfig> {
  const config = parse(readFileSync(join(K8S, 'fender.yaml'), 'utf8')) as {
    listeners: Record<string, { host: string; port: number }>;
    hosts: Record<string, { upstream: string }>;
    lifecycle?: { drainIdle: string };
  };
  // A shorter idle wait than the default 2 s keeps drain tests quick.
  config.lifecycle = { drainIdle: '200ms' };
  const ports = { egress: await freePort(), control: await freePort(), metrics: await freePort() };
  for (const [name, port] of Object.entries(ports))
    config.listeners[name] = { host: '127.0.0.1', port };
  for (const host of Object.values(config.hosts)) host.upstream = upstream;

  const dir = mkdtempSync(join(tmpdir(), 'fender-agent-'));
  const path = join(dir, 'fender.yaml');
  writeFileSync(path, stringify(config));

  return { dir, path, ports, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface AgentProcess {
  readonly child: ChildProcess;
  readonly exit: Promise<number | null>;
  /** What the process wrote to stdout and stderr so far, for failure messages. */
  output(): string;
}

/** Starts `command` (argv form) in the repository root. */
export function startProcess(
  command: readonly string[],
  env: NodeJS.ProcessEnv = {},
): AgentProcess {
  const [file, ...args] = command;
  const child = spawn(file ?? '', args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  return { child, exit, output: () => output };
}

/** Polls `url` until it returns `status`, for at most `timeoutMs` of real time. */
export async function waitForStatus(
  url: string,
  status: number,
  agent: AgentProcess,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void agent.exit.then(() => (exited = true));
  while (Date.now() < deadline && !exited) {
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.status === status) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} did not answer ${status}; agent output:\n${agent.output()}`);
}

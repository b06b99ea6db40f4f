// Child processes of the benchmark and the demo: started pinned to a CPU when
// requested, remembered, and all killed (with their descendants) on every way out:
// normal exit, Ctrl-C, SIGTERM and uncaught errors.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { processTree } from './proc-stats.ts';

const TASKSET = ['/usr/bin/taskset', '/bin/taskset'].find((path) => existsSync(path));
const STDERR_TAIL_BYTES = 4096;

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code (or the signal name) when the process ends. */
  readonly exited: Promise<number | string>;
  /** The last few KiB the process wrote to stderr, for error messages. */
  stderrTail(): string;
}

export interface SpawnOptions {
  /** CPU list for taskset (`0`, `1`); ignored when taskset is not installed. */
  readonly cpu?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** `pipe` to read stdout (e.g. a `listening` line); the default discards it. */
  readonly stdout?: 'pipe' | 'ignore';
  readonly cwd?: string;
}

const live = new Set<Child>();

export function canPin(): boolean {
  return TASKSET !== undefined;
}

/** Starts `command`, with stdin held open as a pipe so a child can notice the parent going away. */
export function startChild(
  name: string,
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): Child {
  const pinned = options.cpu !== undefined && TASKSET !== undefined;
  const file = pinned ? (TASKSET as string) : command;
  const argv = pinned ? ['-c', options.cpu as string, command, ...args] : [...args];
  const proc = spawn(file, argv, {
    stdio: ['pipe', options.stdout ?? 'ignore', 'pipe'],
    env: options.env ?? process.env,
    cwd: options.cwd,
  });
  if (proc.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  let tail = '';
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (text: string) => {
    tail = (tail + text).slice(-STDERR_TAIL_BYTES);
  });
  const exited = new Promise<number | string>((resolve) => {
    proc.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  const child: Child = { name, process: proc, pid: proc.pid, exited, stderrTail: () => tail };
  live.add(child);
  void exited.then(() => live.delete(child));

  return child;
}

/** Kills the child and every process below it (nginx workers) with SIGKILL and waits for the exit. */
export async function stopChild(child: Child): Promise<void> {
  killTree(child.pid);
  await child.exited;
}

/** Kills parents before children, so an nginx master cannot respawn a killed worker. */
function killTree(pid: number): void {
  for (const member of processTree(pid)) {
    try {
      process.kill(member, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

function killAll(): void {
  for (const child of live) killTree(child.pid);
}

/**
 * Kills every child on exit, on SIGINT/SIGTERM (exit 130/143) and on uncaught
 * errors (exit 1), so no proxy or load generator outlives the run.
 */
export function killChildrenOnExit(): void {
  process.once('exit', killAll);
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping ${live.size} child process(es)\n`);
      killAll();
      process.exit(code);
    });
  }
  const fail = (err: unknown): void => {
    process.stderr.write(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : err}\n`);
    killAll();
    process.exit(1);
  };
  process.once('uncaughtException', fail);
  process.once('unhandledRejection', fail);
}

/** Returns a free TCP port on 127.0.0.1 (bound and released, so another process may race for it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));

  return port;
}

/** Waits for the child's `listening http://HOST:PORT` stdout line and returns the port. */
export async function listeningPort(child: Child, timeoutMs: number): Promise<number> {
  const stdout = child.process.stdout;
  if (stdout === null) throw new Error(`${child.name}: stdout is not piped`);
  stdout.setEncoding('utf8');

  return new Promise<number>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => {
      reject(
        new Error(`${child.name} did not start within ${timeoutMs} ms: ${child.stderrTail()}`),
      );
    }, timeoutMs);
    stdout.on('data', (text: string) => {
      seen += text;
      const match = /listening http:\/\/[^\s:]+:(\d+)/.exec(seen);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    void child.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${child.name} exited (${code}) before listening: ${child.stderrTail()}`));
    });
  });
}

// Readers for Linux /proc: CPU time and memory of a process and its
// descendants, and the machine's total busy time (for the foreign-CPU check).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of the times in /proc (USER_HZ, 100 on Linux builds in practice). */
export const CLOCK_TICKS_PER_SECOND = readClockTicks();

function readClockTicks(): number {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

    return Number.isInteger(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
}

interface ProcStat {
  readonly ppid: number;
  /** utime + stime, in clock ticks, over all threads. */
  readonly ticks: number;
  /** cutime + cstime: time of children this process has waited for, in clock ticks. */
  readonly childTicks: number;
}

/** Parses /proc/PID/stat; fields are counted after the `(comm)` field, which may hold spaces. */
function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // After ") " come field 3 (state), 4 (ppid) ... 14 (utime), 15 (stime), 16 (cutime), 17 (cstime).
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const field = (n: number): number => Number(fields[n - 3]);

  return { ppid: field(4), ticks: field(14) + field(15), childTicks: field(16) + field(17) };
}

/** Returns `pid` and all its live descendants. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const child = Number(entry);
    if (!Number.isInteger(child)) continue;
    const stat = readStat(child);
    if (stat === undefined) continue;
    const siblings = children.get(stat.ppid) ?? [];
    siblings.push(child);
    children.set(stat.ppid, siblings);
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    tree.push(...(children.get(tree[i] as number) ?? []));
  }

  return tree;
}

/** CPU time of the given processes, in seconds; processes that have exited count as 0. */
export function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) ticks += readStat(pid)?.ticks ?? 0;

  return ticks / CLOCK_TICKS_PER_SECOND;
}

/** CPU time of the children this process has already reaped, in seconds. */
export function reapedChildrenCpuSeconds(): number {
  return (readStat(process.pid)?.childTicks ?? 0) / CLOCK_TICKS_PER_SECOND;
}

export interface Memory {
  /** Sum of VmRSS, in MiB. */
  readonly rssMiB: number;
  /** Sum of VmHWM (peak resident set), in MiB. */
  readonly peakMiB: number;
}

function statusKiB(status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);

  return match ? Number(match[1]) : 0;
}

/** Memory of the given processes, summed (nginx counts master and worker). */
export function memory(pids: readonly number[]): Memory {
  let rss = 0;
  let peak = 0;
  for (const pid of pids) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      rss += statusKiB(status, 'VmRSS');
      peak += statusKiB(status, 'VmHWM');
    } catch {
      // The process exited between listing and reading; it uses no memory.
    }
  }

  return { rssMiB: rss / 1024, peakMiB: peak / 1024 };
}

/** Busy CPU time of the whole machine (user, nice, system, irq, softirq), in seconds. */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const [, user, nice, system, , , irq, softirq] = line.trim().split(/\s+/).map(Number);
  const busy = (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0);

  return busy / CLOCK_TICKS_PER_SECOND;
}

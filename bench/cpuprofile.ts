// Summary of a V8 `.cpuprofile` (what `node --cpu-prof` writes): self time
// by function and by area (Fender's own folders, each npm package, Node's
// internals, the garbage collector).
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  /** Microseconds between consecutive samples; entry i is the time before sample i. */
  readonly timeDeltas: readonly number[];
}

export interface SelfTime {
  readonly name: string;
  readonly selfMs: number;
  /** Share of the profile's busy time (everything but `(idle)`), 0 to 1. */
  readonly share: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  readonly idleMs: number;
  readonly functions: readonly SelfTime[];
  readonly areas: readonly SelfTime[];
  /** Self time by responsible area: runtime time charged to the nearest caller in Fender or a package. */
  readonly callers: readonly SelfTime[];
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Path of a script URL relative to the project root, or the URL itself for node: and others. */
function shortUrl(url: string): string {
  if (!url.startsWith('file://')) return url;

  return relative(ROOT, fileURLToPath(url));
}

/**
 * Returns the area a frame's code belongs to: `agent/proxy`, `undici`, `node internals`,
 * `native code` (C++ bindings such as writev), `(garbage collector)`.
 */
export function areaOf(frame: CallFrame): string {
  const path = shortUrl(frame.url);
  if (path === '') {
    // V8 names its own pseudo-frames in brackets: (garbage collector), (program), (root).
    if (frame.functionName.startsWith('(')) return frame.functionName;

    return frame.functionName.startsWith('RegExp: ') ? 'regular expressions' : 'native code';
  }
  if (path.startsWith('node:')) return 'node internals';
  const packageMatch = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (packageMatch) return packageMatch[1] as string;
  const parts = path.split('/');

  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : (parts[0] ?? path);
}

function functionKey(frame: CallFrame): string {
  const path = shortUrl(frame.url);
  const name = frame.functionName || '(anonymous)';

  return path === '' ? name : `${name} ${path}:${frame.lineNumber + 1}`;
}

function ranked(totals: Map<string, number>, busyMs: number, limit: number): SelfTime[] {
  return [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, selfMs]) => ({ name, selfMs, share: busyMs === 0 ? 0 : selfMs / busyMs }));
}

function isWasm(frame: CallFrame): boolean {
  const name = frame.functionName;

  return (
    frame.url.startsWith('wasm://') ||
    name.startsWith('js-to-wasm') ||
    name.startsWith('wasm-to-js')
  );
}

interface Tree {
  readonly nodes: ReadonlyMap<number, ProfileNode>;
  readonly parents: ReadonlyMap<number, number>;
}

function treeOf(profile: CpuProfile): Tree {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parents.set(child, node.id);
  }

  return { nodes, parents };
}

/** Memoises a per-node function, since every sample of a node resolves the same way. */
function memoised(resolve: (id: number) => string): (id: number) => string {
  const cache = new Map<number, string>();

  return (id) => {
    let value = cache.get(id);
    if (value === undefined) {
      value = resolve(id);
      cache.set(id, value);
    }

    return value;
  };
}

/**
 * Returns a function giving each node's area. WebAssembly frames carry no
 * package in their URL, so they take the area of the JavaScript that called
 * them (`undici (wasm)` for undici's llhttp parser).
 */
function areaResolver(tree: Tree): (id: number) => string {
  const resolve = memoised((id) => {
    const frame = tree.nodes.get(id)?.callFrame;
    if (frame === undefined) return '(unknown)';
    if (!isWasm(frame)) return areaOf(frame);
    const parent = tree.parents.get(id);
    const caller = parent === undefined ? 'unknown' : resolve(parent).replace(/ \(wasm\)$/, '');

    return `${caller} (wasm)`;
  });

  return resolve;
}

const RUNTIME_AREAS = new Set(['node internals', 'native code', 'regular expressions']);

/**
 * Returns a function giving the area responsible for each node: its own area,
 * or for Node.js internals and native code (a socket write, a timer) the area
 * of the nearest caller in Fender or a package. Time with no such caller, such
 * as the event loop's own work, stays with `node internals`.
 */
function callerResolver(tree: Tree, areaFor: (id: number) => string): (id: number) => string {
  const resolve = memoised((id) => {
    const area = areaFor(id).replace(/ \(wasm\)$/, '');
    if (!RUNTIME_AREAS.has(area) && !area.startsWith('unknown')) return area;
    const parent = tree.parents.get(id);
    const frame = parent === undefined ? undefined : tree.nodes.get(parent)?.callFrame;
    if (parent === undefined || frame === undefined || frame.functionName === '(root)') {
      return 'node internals';
    }

    return resolve(parent);
  });

  return resolve;
}

/** Sums self time per function and per area; `limit` bounds the function list. */
export function summarizeProfile(profile: CpuProfile, limit: number): ProfileSummary {
  const tree = treeOf(profile);
  const areaFor = areaResolver(tree);
  const callerFor = callerResolver(tree, areaFor);
  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  const byCaller = new Map<string, number>();
  let totalMs = 0;
  let idleMs = 0;
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    const frame = tree.nodes.get(id)?.callFrame;
    totalMs += ms;
    if (frame === undefined) return;
    if (frame.functionName === '(idle)') {
      idleMs += ms;

      return;
    }
    const key = functionKey(frame);
    byFunction.set(key, (byFunction.get(key) ?? 0) + ms);
    const area = areaFor(id);
    byArea.set(area, (byArea.get(area) ?? 0) + ms);
    const caller = callerFor(id);
    byCaller.set(caller, (byCaller.get(caller) ?? 0) + ms);
  });
  const busyMs = totalMs - idleMs;

  return {
    totalMs,
    idleMs,
    functions: ranked(byFunction, busyMs, limit),
    areas: ranked(byArea, busyMs, Number.MAX_SAFE_INTEGER),
    callers: ranked(byCaller, busyMs, Number.MAX_SAFE_INTEGER),
  };
}

function table(title: string, rows: readonly SelfTime[]): string[] {
  const lines = [`| ${title} | self ms | share of busy time |`, '|---|---|---|'];
  for (const row of rows) {
    lines.push(`| ${row.name} | ${row.selfMs.toFixed(0)} | ${(row.share * 100).toFixed(1)} % |`);
  }

  return lines;
}

export function profileReport(summary: ProfileSummary): string {
  const busy = summary.totalMs - summary.idleMs;

  return [
    `profiled ${(summary.totalMs / 1000).toFixed(1)} s, busy ${(busy / 1000).toFixed(1)} s, ` +
      `idle ${(summary.idleMs / 1000).toFixed(1)} s`,
    '',
    ...table('area (where the time was spent)', summary.areas),
    '',
    ...table('responsible area (runtime time charged to its caller)', summary.callers),
    '',
    ...table('function (self time)', summary.functions),
  ].join('\n');
}

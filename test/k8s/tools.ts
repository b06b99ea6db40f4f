import { execFileSync } from 'node:child_process';

// External tools some tests need: kubectl (kustomize), promtool and tini.
// .ci/run installs them, so in CI (CI=true) a missing tool fails its tests;
// on a developer machine without it, they are skipped.

export const IN_CI = process.env['CI'] === 'true';

/** Returns the tool's path on PATH, or undefined; the `override` environment variable (FENDER_KUBECTL...) can name another. */
export function findTool(name: string, override?: string): string | undefined {
  if (override !== undefined && process.env[override] !== undefined) return process.env[override];

  try {
    return (
      execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined
    );
  } catch {
    return undefined;
  }
}

/** True when tests that need the tool should be skipped: it is missing and this is not CI. */
export function skipWithout(path: string | undefined): boolean {
  return path === undefined && !IN_CI;
}

/** Returns the tool's path, failing the test when it is missing (which in CI means the install step broke). */
export function requireTool(path: string | undefined, name: string, install: string): string {
  if (path === undefined) throw new Error(`${name} is not installed; ${install}`);

  return path;
}

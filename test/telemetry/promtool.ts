import { spawnSync } from 'node:child_process';

// promtool comes from Debian's `prometheus` package, which .ci/run installs.
// Tests that need it skip on a machine without it, except under CI=true,
// where they run and fail.

export const promtoolFound = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;

/** True when promtool tests must run: promtool is installed, or this is CI and its absence is a failure. */
export const runPromtoolTests = promtoolFound || process.env.CI === 'true';

/** Runs `promtool check metrics` on an exposition; returns its exit status and the lines it printed. */
export function checkMetrics(exposition: string): { status: number | null; problems: string[] } {
  const run = spawnSync('promtool', ['check', 'metrics'], {
    input: exposition,
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (run.error !== undefined) {
    return {
      status: null,
      problems: [`cannot run promtool: ${run.error.message}; install Debian's prometheus package`],
    };
  }
  const problems = `${run.stdout}${run.stderr}`
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');

  return { status: run.status, problems };
}

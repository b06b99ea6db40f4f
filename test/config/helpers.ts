import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { parseConfig } from '../../agent/config/load.ts';
import { formatProblem } from '../../agent/config/problems.ts';
import type { Snapshot } from '../../agent/config/types.ts';

/** Source path used for config text that is not on disk; relative paths resolve against /etc/fender. */
export const SOURCE = '/etc/fender/fender.yaml';

export const ONE_HOST = `
hosts:
  api.example.com:
    upstream: https://api.example.com
`;

/** Parses config text that must be valid. */
export function snapshotOf(text: string, source = SOURCE): Snapshot {
  const result = parseConfig(text, source);
  if (!result.ok)
    throw new Error(`expected a valid config:\n${result.problems.map(formatProblem).join('\n')}`);

  return result.snapshot;
}

/** Parses config text that must be invalid; returns each problem as `path: message`. */
export function problemsOf(text: string, source = SOURCE): string[] {
  const result = parseConfig(text, source);
  if (result.ok) throw new Error('expected problems, but the config is valid');

  return result.problems.map(formatProblem);
}

/** A temporary directory, removed by the returned cleanup function. */
export function tempDir(): {
  dir: string;
  write(name: string, content: string | Buffer): string;
  remove(): void;
} {
  const dir = mkdtempSync(join(tmpdir(), 'fender-config-'));

  return {
    dir,
    write(name, content) {
      const path = join(dir, name);
      writeFileSync(path, content);

      return path;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

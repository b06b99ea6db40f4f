import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// A ConfigMap volume laid out and updated the way the kubelet's atomic
// writer does it: each version goes into a new `..<timestamp>` directory,
// `..data_tmp` is pointed at it and renamed over `..data`, and the previous
// directory is deleted. The visible files are symlinks through `..data`.

export interface KubeletVolume {
  /** The mount directory (/etc/fender inside the pod). */
  readonly dir: string;
  /** The visible config file, `<dir>/fender.yaml`. */
  readonly file: string;
  /** Publishes a new version of every key, as a ConfigMap update does. */
  publish(files: Record<string, string>): void;
  /** The `..<timestamp>` directories present now. */
  versions(): string[];
  remove(): void;
}

export function kubeletVolume(
  files: Record<string, string>,
  dir = mkdtempSync(join(tmpdir(), 'fender-configmap-')),
): KubeletVolume {
  let sequence = 0;
  let current: string | undefined;
  const publish = (next: Record<string, string>) => {
    sequence += 1;
    const version = `..2026_12_01_10_00_${String(sequence).padStart(2, '0')}.${1000 + sequence}`;
    mkdirSync(join(dir, version));
    for (const [name, content] of Object.entries(next))
      writeFileSync(join(dir, version, name), content);
    symlinkSync(version, join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    for (const name of Object.keys(next)) {
      try {
        symlinkSync(join('..data', name), join(dir, name));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    if (current !== undefined) rmSync(join(dir, current), { recursive: true });
    current = version;
  };
  publish(files);

  return {
    dir,
    file: join(dir, 'fender.yaml'),
    publish,
    versions: () => readdirSync(dir).filter((name) => /^\.\.\d{4}_/.test(name)),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

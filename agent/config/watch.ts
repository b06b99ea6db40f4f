import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, realpathSync, watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Logger } from 'pino';

// Follows the config file as Kubernetes updates a ConfigMap volume. The
// kubelet writes each version into a new `..<timestamp>` directory, points
// `..data_tmp` at it, renames that over `..data` and deletes the old
// directory. The visible `fender.yaml` is a symlink to `..data/fender.yaml`. The file
// itself is never written, so a watch on it (or on its inode) sees the
// first swap at most, and its mtime does not change. Watching the mount's
// directory sees every rename, and comparing a hash of the content tells
// a real change from unrelated events. The same watch covers a plain file
// edited in place or replaced by rename, as editors do.

const DATA_LINK = '..data';

export interface WatchOptions {
  readonly log: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Quiet time after the last event before the file is read, in milliseconds. */
  readonly debounceMs?: number;
  /**
   * Interval of a fallback re-read in milliseconds, for file systems whose
   * events can be missed, and to re-establish a watch that failed.
   */
  readonly pollMs?: number;
  /**
   * sha256 (hex) of the bytes the agent loaded at start. When given, a file
   * that changed between that load and the watch start fires at once.
   */
  readonly loadedHash?: string;
}

export interface ConfigWatch {
  close(): void;
}

const DEFAULT_DEBOUNCE_MS = 200;
const DEFAULT_POLL_MS = 5_000;

/**
 * Calls `onChange` each time the content of the file at `path` changes. A
 * file that cannot be read (deleted, mid-replace) is logged once and waited
 * for, not reported as a change.
 */
export function watchConfig(
  path: string,
  onChange: () => unknown,
  options: WatchOptions,
): ConfigWatch {
  const file = resolve(path);
  const dir = watchedDirectory(file);
  const { log } = options;
  const initial = readHash(file);
  let last = options.loadedHash ?? ('hash' in initial ? initial.hash : undefined);
  let unreadable = false;
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const check = () => {
    timer = undefined;
    if (closed) return;
    const read = readHash(file);
    if ('error' in read) {
      if (!unreadable) {
        log.warn(
          { path: file, code: read.error },
          `cannot read the config file (${read.error}); the loaded config stays in effect`,
        );
      }
      unreadable = true;

      return;
    }
    unreadable = false;
    const hash = read.hash;
    if (hash === last) return;
    last = hash;
    log.info({ path: file, hash }, 'config file changed');
    notify(onChange, log);
  };
  const schedule = () => {
    if (closed) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(check, options.debounceMs ?? DEFAULT_DEBOUNCE_MS);
    timer.unref();
  };
  const startWatch = () => {
    try {
      watcher = watch(dir, { persistent: false }, schedule);
    } catch (error) {
      log.warn(
        { path: dir, err: error },
        'cannot watch the config directory; re-reading the file on an interval',
      );

      return;
    }
    watcher.on('error', (error) => {
      log.warn(
        { path: dir, err: error },
        'config directory watch failed; retrying on the next interval',
      );
      watcher?.close();
      watcher = undefined;
    });
  };

  startWatch();
  const poll = setInterval(() => {
    if (watcher === undefined) startWatch();
    check();
  }, options.pollMs ?? DEFAULT_POLL_MS);
  poll.unref();
  if (options.loadedHash !== undefined) schedule();

  return {
    close() {
      closed = true;
      clearInterval(poll);
      if (timer !== undefined) clearTimeout(timer);
      watcher?.close();
    },
  };
}

/**
 * Reports whether `path` resolves through a `..data` symlink beside it, as
 * files of a ConfigMap volume do. A `subPath` mount does not, and the
 * kubelet never updates it.
 */
export function isKubeletMount(path: string): boolean {
  const file = resolve(path);
  const dir = watchedDirectory(file);
  try {
    if (!lstatSync(join(dir, DATA_LINK)).isSymbolicLink()) return false;

    return realpathSync(file) === realpathSync(join(dir, DATA_LINK, basename(file)));
  } catch {
    return false;
  }
}

/** Returns the directory whose entries change on an update: the mount, also for a path given through `..data`. */
function watchedDirectory(file: string): string {
  const dir = dirname(file);

  return basename(dir) === DATA_LINK ? dirname(dir) : dir;
}

/** sha256 of the file's bytes (hex, as the config Snapshot's hash), or the error code of the failed read. */
function readHash(file: string): { hash: string } | { error: string } {
  try {
    // A sync read is fine here: it runs once per burst of events and once
    // per poll interval, on a config file of a few kilobytes.
    return { hash: createHash('sha256').update(readFileSync(file)).digest('hex') };
  } catch (error) {
    return { error: (error as NodeJS.ErrnoException).code ?? String(error) };
  }
}

function notify(onChange: () => unknown, log: WatchOptions['log']): void {
  try {
    const result = onChange();
    if (result instanceof Promise) {
      result.catch((error: unknown) =>
        log.error({ err: error }, 'config reload after a file change failed'),
      );
    }
  } catch (error) {
    log.error({ err: error }, 'config reload after a file change failed');
  }
}

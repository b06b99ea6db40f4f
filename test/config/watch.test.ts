import { createHash } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isKubeletMount, watchConfig } from '../../agent/config/watch.ts';
import type { ConfigWatch } from '../../agent/config/watch.ts';
import { kubeletVolume } from './kubelet-volume.ts';
import type { KubeletVolume } from './kubelet-volume.ts';

// Real file-system events on real directories. The fallback poll is set far
// beyond each test's length, so every change seen here came from the
// directory watch.
const WATCH = { debounceMs: 30, pollMs: 600_000 };

function recorder() {
  const lines: { level: string; fields: Record<string, unknown>; msg: string }[] = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) =>
    lines.push({ level, fields, msg });

  return { log: { info: at('info'), warn: at('warn'), error: at('error') } as never, lines };
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Waits until `count()` reaches `expected`, then a little longer to catch extra calls. */
async function settle(count: () => number, expected: number): Promise<void> {
  await vi.waitFor(() => expect(count()).toBeGreaterThanOrEqual(expected), {
    timeout: 3_000,
    interval: 10,
  });
  await new Promise((resolve) => setTimeout(resolve, WATCH.debounceMs * 4));
  expect(count()).toBe(expected);
}

describe('isKubeletMount', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fender-mount-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('recognises a ConfigMap volume', () => {
    const volume = kubeletVolume({ 'fender.yaml': 'v1' }, dir);
    expect(isKubeletMount(volume.file)).toBe(true);
    expect(isKubeletMount(join(dir, '..data', 'fender.yaml'))).toBe(true);
  });

  it('rejects a plain file', () => {
    writeFileSync(join(dir, 'fender.yaml'), 'v1');
    expect(isKubeletMount(join(dir, 'fender.yaml'))).toBe(false);
  });

  it('rejects a file beside ..data that does not resolve through it', () => {
    // A subPath mount shows a regular file, even where the source volume had ..data.
    kubeletVolume({ 'other.yaml': 'x' }, dir);
    writeFileSync(join(dir, 'fender.yaml'), 'v1');
    expect(isKubeletMount(join(dir, 'fender.yaml'))).toBe(false);
  });

  it('rejects a missing file', () => {
    expect(isKubeletMount(join(dir, 'absent.yaml'))).toBe(false);
  });
});

describe('watchConfig on a ConfigMap volume', () => {
  let volume: KubeletVolume;
  let watch: ConfigWatch | undefined;
  beforeEach(() => {
    volume = kubeletVolume({ 'fender.yaml': 'version: 1\n', 'other.yaml': 'a\n' });
  });
  afterEach(() => {
    watch?.close();
    volume.remove();
  });

  it('fires once per swap across several swaps and an invalid version', async () => {
    let calls = 0;
    const { log, lines } = recorder();
    const firstVersion = volume.versions()[0];
    watch = watchConfig(volume.file, () => (calls += 1), { log, ...WATCH });

    volume.publish({ 'fender.yaml': 'version: 2\n', 'other.yaml': 'a\n' });
    await settle(() => calls, 1);
    expect(volume.versions()).not.toContain(firstVersion);

    volume.publish({ 'fender.yaml': 'version: 3\n', 'other.yaml': 'a\n' });
    await settle(() => calls, 2);

    volume.publish({ 'fender.yaml': 'version: [4\n', 'other.yaml': 'a\n' });
    await settle(() => calls, 3);
    expect(readlinkSync(join(volume.dir, '..data'))).toBe(volume.versions()[0]);
    expect(volume.versions()).toHaveLength(1);
    const changes = lines.filter((line) => line.msg === 'config file changed');
    expect(changes.map((line) => line.fields.hash)).toEqual([
      sha256('version: 2\n'),
      sha256('version: 3\n'),
      sha256('version: [4\n'),
    ]);
  });

  it('ignores swaps that leave the file unchanged', async () => {
    let calls = 0;
    watch = watchConfig(volume.file, () => (calls += 1), { log: recorder().log, ...WATCH });
    volume.publish({ 'fender.yaml': 'version: 1\n', 'other.yaml': 'b\n' });
    volume.publish({ 'fender.yaml': 'version: 1\n', 'other.yaml': 'c\n' });
    await new Promise((resolve) => setTimeout(resolve, WATCH.debounceMs * 6));
    expect(calls).toBe(0);
    volume.publish({ 'fender.yaml': 'version: 2\n', 'other.yaml': 'c\n' });
    await settle(() => calls, 1);
  });

  it('fires at once when the file changed after it was loaded', async () => {
    let calls = 0;
    watch = watchConfig(volume.file, () => (calls += 1), {
      log: recorder().log,
      ...WATCH,
      loadedHash: sha256('version: 0\n'),
    });
    await settle(() => calls, 1);
  });

  it('stops after close', async () => {
    let calls = 0;
    watch = watchConfig(volume.file, () => (calls += 1), { log: recorder().log, ...WATCH });
    watch.close();
    volume.publish({ 'fender.yaml': 'version: 2\n', 'other.yaml': 'a\n' });
    await new Promise((resolve) => setTimeout(resolve, WATCH.debounceMs * 6));
    expect(calls).toBe(0);
  });

  it('logs a failing reload and keeps watching', async () => {
    let calls = 0;
    const { log, lines } = recorder();
    watch = watchConfig(
      volume.file,
      async () => {
        calls += 1;
        throw new Error('disk on fire');
      },
      { log, ...WATCH },
    );
    volume.publish({ 'fender.yaml': 'version: 2\n', 'other.yaml': 'a\n' });
    await settle(() => calls, 1);
    expect(
      lines.some(
        (line) => line.level === 'error' && line.msg === 'config reload after a file change failed',
      ),
    ).toBe(true);
    volume.publish({ 'fender.yaml': 'version: 3\n', 'other.yaml': 'a\n' });
    await settle(() => calls, 2);
  });
});

describe('watchConfig on a plain file', () => {
  let dir: string;
  let file: string;
  let watch: ConfigWatch | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fender-plain-'));
    file = join(dir, 'fender.yaml');
    writeFileSync(file, 'version: 1\n');
  });
  afterEach(() => {
    watch?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('follows edits in place', async () => {
    let calls = 0;
    watch = watchConfig(file, () => (calls += 1), { log: recorder().log, ...WATCH });
    writeFileSync(file, 'version: 2\n');
    await settle(() => calls, 1);
    writeFileSync(file, 'version: 3\n');
    await settle(() => calls, 2);
  });

  it('follows replacement by rename', async () => {
    let calls = 0;
    watch = watchConfig(file, () => (calls += 1), { log: recorder().log, ...WATCH });
    writeFileSync(join(dir, '.fender.yaml.swp'), 'version: 2\n');
    renameSync(join(dir, '.fender.yaml.swp'), file);
    await settle(() => calls, 1);
  });

  it('waits out a deleted file', async () => {
    let calls = 0;
    const { log, lines } = recorder();
    watch = watchConfig(file, () => (calls += 1), { log, ...WATCH });
    unlinkSync(file);
    await vi.waitFor(() => expect(lines.some((line) => line.level === 'warn')).toBe(true), {
      timeout: 3_000,
      interval: 10,
    });
    expect(calls).toBe(0);
    expect(lines.find((line) => line.level === 'warn')?.msg).toBe(
      'cannot read the config file (ENOENT); the loaded config stays in effect',
    );
    writeFileSync(file, 'version: 2\n');
    await settle(() => calls, 1);
    expect(lines.filter((line) => line.level === 'warn')).toHaveLength(1);
  });

  it('follows a symlink repointed to another file', async () => {
    mkdirSync(join(dir, 'real'));
    writeFileSync(join(dir, 'real', 'a.yaml'), 'version: a\n');
    writeFileSync(join(dir, 'real', 'b.yaml'), 'version: b\n');
    const link = join(dir, 'link.yaml');
    symlinkSync(join('real', 'a.yaml'), link);
    let calls = 0;
    watch = watchConfig(link, () => (calls += 1), { log: recorder().log, ...WATCH });
    symlinkSync(join('real', 'b.yaml'), join(dir, 'link.tmp'));
    renameSync(join(dir, 'link.tmp'), link);
    await settle(() => calls, 1);
  });
});

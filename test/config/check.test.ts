import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { afterAll, describe, expect, it } from 'vitest';

import { runCheck } from '../../agent/config/check.ts';
import { loadConfigFile } from '../../agent/config/load.ts';
import { ONE_HOST, tempDir } from './helpers.ts';

async function check(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
  };
  const code = await runCheck(argv, io);

  return { code, stdout, stderr };
}

describe('fender check', () => {
  const temp = tempDir();
  const valid = temp.write('valid.yaml', ONE_HOST);
  const invalid = temp.write(
    'invalid.yaml',
    `${ONE_HOST}    retry: { retries: three, retires: 1 }\n`,
  );
  afterAll(() => temp.remove());

  it('exits 0 with the hash and host count for a valid file', async () => {
    const hash = createHash('sha256').update(readFileSync(valid)).digest('hex');
    const result = await check(['--config', valid]);

    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${valid} is valid: 1 host, hash ${hash}\n`);
    expect(result.stderr).toBe('');
  });

  it('exits 1 and prints every problem on its own line', async () => {
    const result = await check([`--config=${invalid}`]);

    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.split('\n')).toEqual([
      `${invalid} is invalid (2 problems):`,
      'hosts."api.example.com".retry.retries: expected a whole number from 0 to 10, got "three"',
      'hosts."api.example.com".retry.retires: unknown key (did you mean "retries"?)',
      '',
    ]);
  });

  it('exits 1 for a missing file and names the fix', async () => {
    const missing = `${temp.dir}/missing.yaml`;
    const result = await check(['-c', missing]);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `(file): cannot read ${missing}: no such file; pass the right file with --config PATH (or $FENDER_CONFIG)`,
    );
  });

  it('exits 2 without --config', async () => {
    const result = await check([]);

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^fender check: --config PATH is required\nusage: fender check --config PATH/,
    );
  });

  it('exits 2 on an unknown option or a stray argument', async () => {
    expect((await check(['--config', valid, '--verbose'])).code).toBe(2);
    expect((await check(['--config', valid, 'extra'])).code).toBe(2);
    expect((await check(['--config'])).code).toBe(2);
  });

  it('prints usage for --help', async () => {
    const result = await check(['--help']);

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^usage: fender check --config PATH/);
  });

  it('rejects a file that is not UTF-8', async () => {
    const latin1 = temp.write(
      'latin1.yaml',
      Buffer.from([0x6c, 0x6f, 0x67, 0x3a, 0x20, 0xe9, 0x0a]),
    );
    const result = await loadConfigFile(latin1);

    expect(result).toEqual({
      ok: false,
      problems: [
        { path: '(file)', message: `${latin1} is not valid UTF-8; save the file as UTF-8` },
      ],
    });
  });
});

import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { problemsOf, snapshotOf, tempDir } from './helpers.ts';

describe('secret files', () => {
  const temp = tempDir();
  const source = join(temp.dir, 'fender.yaml');
  const token = temp.write('token', 'a-token\n');
  temp.write('blank', '\n\n');
  temp.write('key', Buffer.alloc(32, 7));
  temp.write('short-key', Buffer.alloc(31, 7));
  afterAll(() => temp.remove());

  it('resolves relative paths against the config file directory', () => {
    const snapshot = snapshotOf(
      'listeners:\n  control: { tokenFile: token }\ncache: { privateKeyFile: ./key }\n',
      source,
    );

    expect(snapshot.listeners.control.tokenFile).toBe(token);
    expect(snapshot.cache.privateKeyFile).toBe(join(temp.dir, 'key'));
  });

  it('keeps the paths but no file content', () => {
    const snapshot = snapshotOf('listeners:\n  control: { tokenFile: token }\n', source);

    expect(JSON.stringify(snapshot.effective)).toContain('"tokenFile":"token"');
    expect(JSON.stringify(snapshot.effective)).not.toContain('a-token');
  });

  it('reports a missing token file with the fix', () => {
    expect(problemsOf('listeners:\n  control: { tokenFile: missing }\n', source)).toEqual([
      `listeners.control.tokenFile: ${join(temp.dir, 'missing')} does not exist; mount the secret there or correct the path`,
    ]);
  });

  it('rejects a token file with only whitespace', () => {
    expect(problemsOf('listeners:\n  control: { tokenFile: blank }\n', source)).toEqual([
      `listeners.control.tokenFile: ${join(temp.dir, 'blank')} is empty; expected the control API bearer token`,
    ]);
  });

  it('rejects a directory', () => {
    expect(problemsOf(`cache: { privateKeyFile: ${temp.dir} }\n`, source)).toEqual([
      `cache.privateKeyFile: ${temp.dir} is a directory; expected a file`,
    ]);
  });

  it('requires 32 bytes of cache key', () => {
    expect(problemsOf('cache: { privateKeyFile: short-key }\n', source)).toEqual([
      `cache.privateKeyFile: ${join(temp.dir, 'short-key')} holds 31 bytes; expected at least 32 bytes of secret material (openssl rand -out FILE 32)`,
    ]);
  });

  it('accepts encrypted caching with a key file', () => {
    const file = `cache: { privateKeyFile: key }
hosts:
  api.example.com:
    upstream: https://api.example.com
    cache: { enabled: true, private: encrypt }
`;

    expect(snapshotOf(file, source).hosts.get('api.example.com')?.cache.private).toBe('encrypt');
  });

  it('reports missing files along with other problems', () => {
    const problems = problemsOf(
      'listeners:\n  control: { tokenFile: nope }\ndefaults:\n  retry: { retries: -1 }\n',
      source,
    );

    expect(problems).toEqual([
      'defaults.retry.retries: expected a whole number from 0 to 10, got -1',
      `listeners.control.tokenFile: ${join(temp.dir, 'nope')} does not exist; mount the secret there or correct the path`,
    ]);
  });
});

import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CacheKeyring, loadKeyring, SEAL_OVERHEAD_BYTES } from '../../agent/cache/crypto.ts';

const keyring = new CacheKeyring(randomBytes(32));
const plaintext = Buffer.from('{"user":"alice"}');

describe('CacheKeyring', () => {
  it('opens what it sealed for the same credential and context', () => {
    const sealed = keyring.seal('alice', 'key-1', plaintext);

    expect(keyring.open('alice', 'key-1', sealed)).toEqual(plaintext);
    expect(sealed.length).toBe(plaintext.length + SEAL_OVERHEAD_BYTES);
  });

  it('does not open with another credential', () => {
    const sealed = keyring.seal('alice', 'key-1', plaintext);

    expect(keyring.open('bob', 'key-1', sealed)).toBeUndefined();
  });

  it('does not open under another context', () => {
    const sealed = keyring.seal('alice', 'key-1', plaintext);

    expect(keyring.open('alice', 'key-2', sealed)).toBeUndefined();
  });

  it('does not open altered bytes', () => {
    const sealed = keyring.seal('alice', 'key-1', plaintext);
    const last = sealed.length - 1;
    sealed[last] = (sealed[last] as number) ^ 1;

    expect(keyring.open('alice', 'key-1', sealed)).toBeUndefined();
  });

  it('does not open with another secret', () => {
    const other = new CacheKeyring(randomBytes(32));

    expect(other.open('alice', 'key-1', keyring.seal('alice', 'key-1', plaintext))).toBeUndefined();
  });

  it('uses a fresh IV for every seal', () => {
    const first = keyring.seal('alice', 'key-1', plaintext);
    const second = keyring.seal('alice', 'key-1', plaintext);

    expect(first.subarray(0, 12).equals(second.subarray(0, 12))).toBe(false);
    expect(first.equals(second)).toBe(false);
  });

  it('tags credentials apart and stably', () => {
    expect(keyring.credentialTag('alice')).toBe(keyring.credentialTag('alice'));
    expect(keyring.credentialTag('alice')).not.toBe(keyring.credentialTag('bob'));
    expect(keyring.credentialTag('alice')).not.toBe(
      new CacheKeyring(randomBytes(32)).credentialTag('alice'),
    );
  });

  it('keeps the tag apart from the plain HMAC of the digest', () => {
    expect(keyring.credentialTag('alice')).not.toBe(keyring.digest('alice'));
  });

  it('seals credentials longer than the HKDF info limit', () => {
    const cookie = 'c'.repeat(8192);

    expect(keyring.open(cookie, 'k', keyring.seal(cookie, 'k', plaintext))).toEqual(plaintext);
  });

  it('rejects a short secret', () => {
    expect(() => new CacheKeyring(randomBytes(31))).toThrow(
      'cache secret is 31 bytes, expected at least 32',
    );
  });
});

/** Loads the keyring at `path`, failing the test when it does not load. */
function loaded(path: string): CacheKeyring {
  const result = loadKeyring(path);
  if (result.status !== 'loaded') throw new Error(`expected ${path} to load: ${result.message}`);

  return result.keyring;
}

describe('loadKeyring', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fender-cache-key-'));

  it('loads a 32-byte secret', () => {
    const path = join(dir, 'ok');
    writeFileSync(path, randomBytes(32).toString('hex') + '\n');

    expect(loadKeyring(path).status).toBe('loaded');
  });

  it('reports a missing file', () => {
    const result = loadKeyring(join(dir, 'absent'));

    expect(result.status).toBe('missing');
  });

  it('rejects a short secret', () => {
    const path = join(dir, 'short');
    writeFileSync(path, randomBytes(31));
    const result = loadKeyring(path);

    expect(result.status).toBe('invalid');
    expect(result).toMatchObject({ message: expect.stringContaining('is too short: 31 bytes') });
  });

  it('reads the same secret as the same keyring', () => {
    const path = join(dir, 'same');
    writeFileSync(path, 'k'.repeat(40));
    const first = loaded(path);
    const second = loaded(path);

    expect(first.sameSecret(second)).toBe(true);
    expect(first.sameSecret(keyring)).toBe(false);
  });
});

import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

// Key material of the private cache mode. Two independent keys come from the
// secret in `cache.privateKeyFile`, both through HKDF-SHA256 (RFC 5869) with
// the secret as input keying material:
//
// - the lookup key (info `fender-cache-lookup-v1`, no salt) keys the
//   HMAC-SHA256 that turns a credential into the tag in an entry's cache key;
// - each entry key (info `fender-cache-entry-v1`, salt = the credential)
//   encrypts that credential's entries with AES-256-GCM.
//
// The credential is the HKDF salt rather than part of the info because Node
// limits info to 1024 bytes and cookies are often longer. Every derived key
// depends on the secret, and the tag stored in a cache key does not reveal
// the entry key, so only a request presenting the same credential can find
// an entry, and only that credential's key decrypts it.

export const MIN_SECRET_BYTES = 32;

const LOOKUP_INFO = 'fender-cache-lookup-v1';
const ENTRY_INFO = 'fender-cache-entry-v1';
const KEY_BYTES = 32;
/** 96 bits, the IV size GCM is specified for (NIST SP 800-38D). */
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** An encrypted payload: `iv ‖ tag ‖ ciphertext`, in one buffer. */
export type Sealed = Buffer;

/** Bytes AES-256-GCM adds to a payload of any length. */
export const SEAL_OVERHEAD_BYTES = IV_BYTES + TAG_BYTES;

export class CacheKeyring {
  readonly #secret: Buffer;
  readonly #lookupKey: Buffer;

  constructor(secret: Buffer) {
    if (secret.length < MIN_SECRET_BYTES) {
      throw new RangeError(
        `cache secret is ${secret.length} bytes, expected at least ${MIN_SECRET_BYTES}`,
      );
    }
    this.#secret = Buffer.from(secret);
    this.#lookupKey = derive(this.#secret, Buffer.alloc(0), LOOKUP_INFO);
  }

  /** Returns the keyed hash of `credential` used in its entries' cache keys. */
  credentialTag(credential: string): string {
    return createHmac('sha256', this.#lookupKey).update(credential).digest('base64url');
  }

  /** Returns a keyed hash of `data`, for key parts that must not sit in memory in clear. */
  digest(data: string): string {
    return createHmac('sha256', this.#lookupKey).update('\0').update(data).digest('base64url');
  }

  /**
   * Encrypts `plaintext` under the key of `credential`, with a fresh random
   * IV. `context` (the entry's cache key) is bound as additional data, so a
   * payload moved to another entry fails to open.
   */
  seal(credential: string, context: string, plaintext: Buffer): Sealed {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#entryKey(credential), iv, {
      authTagLength: TAG_BYTES,
    });
    cipher.setAAD(Buffer.from(context));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);

    return Buffer.concat([iv, cipher.getAuthTag(), ciphertext]);
  }

  /** Decrypts a sealed payload; returns undefined when the key, context or bytes do not match. */
  open(credential: string, context: string, sealed: Sealed): Buffer | undefined {
    if (sealed.length < SEAL_OVERHEAD_BYTES) return undefined;

    const iv = sealed.subarray(0, IV_BYTES);
    const tag = sealed.subarray(IV_BYTES, SEAL_OVERHEAD_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.#entryKey(credential), iv, {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([
        decipher.update(sealed.subarray(SEAL_OVERHEAD_BYTES)),
        decipher.final(),
      ]);
    } catch {
      // final() throws when the tag does not verify: a wrong key or altered bytes.
      return undefined;
    }
  }

  /** Reports whether `other` was made from the same secret. */
  sameSecret(other: CacheKeyring): boolean {
    return this.#secret.equals(other.#secret);
  }

  #entryKey(credential: string): Buffer {
    return derive(this.#secret, Buffer.from(credential), ENTRY_INFO);
  }
}

function derive(secret: Buffer, salt: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, salt, info, KEY_BYTES));
}

export type KeyringLoad =
  | { readonly status: 'loaded'; readonly keyring: CacheKeyring }
  | { readonly status: 'missing'; readonly message: string }
  | { readonly status: 'invalid'; readonly message: string };

/**
 * Reads the secret file; every byte of it is secret material, as the config
 * check counts it. A missing file is not an error: hosts with
 * `private: encrypt` then bypass the cache for credentialed requests. The
 * read is synchronous so that a reload swaps the config and the secret in
 * one step. It runs only at start and on reload, for a file of a few bytes.
 */
export function loadKeyring(path: string): KeyringLoad {
  let secret: Buffer;
  try {
    secret = readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      return { status: 'missing', message: `cache.privateKeyFile ${path} does not exist` };
    }

    return {
      status: 'invalid',
      message: `cannot read cache.privateKeyFile ${path}: ${String(error)}`,
    };
  }

  if (secret.length < MIN_SECRET_BYTES) {
    return {
      status: 'invalid',
      message: `cache.privateKeyFile ${path} is too short: ${secret.length} bytes, expected at least ${MIN_SECRET_BYTES}: write at least ${MIN_SECRET_BYTES} random bytes, for example with "openssl rand -out FILE ${MIN_SECRET_BYTES}"`,
    };
  }

  return { status: 'loaded', keyring: new CacheKeyring(secret) };
}

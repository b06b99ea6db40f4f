import type { CacheKeyring } from './crypto.ts';
import type { CacheEntry, EntryPayload, StoredHeaders, StoredResponse } from './entry.ts';

// Entry payloads. A shared entry keeps its headers and body as they are. A
// private entry keeps both encrypted as one sealed buffer, laid out as a
// u32 big-endian header length, the headers as JSON, then the body.

const LENGTH_BYTES = 4;

/**
 * Returns `buffer` itself when it owns its whole memory, else an exact-size
 * copy. `Buffer.allocUnsafe` and `Buffer.concat` return slices of a shared
 * pool for sizes under half of `Buffer.poolSize`, and a stored slice would
 * keep the whole pool alive, outside the byte accounting.
 */
export function ownedBuffer(buffer: Buffer): Buffer {
  if (buffer.byteOffset === 0 && buffer.buffer.byteLength === buffer.length) return buffer;

  const copy = Buffer.allocUnsafeSlow(buffer.length);
  buffer.copy(copy);

  return copy;
}

/**
 * Builds the payload of a new entry: sealed under the credential's key when
 * the request carried one, in clear otherwise. `context` is the entry key.
 */
export function sealPayload(
  response: StoredResponse,
  keyring: CacheKeyring | undefined,
  credential: string | undefined,
  context: string,
): EntryPayload {
  if (credential === undefined) {
    return { kind: 'clear', headers: response.headers, body: ownedBuffer(response.body) };
  }
  if (keyring === undefined) {
    throw new Error('Internal error: a credentialed response reached the cache without a keyring');
  }

  const head = Buffer.from(JSON.stringify(response.headers));
  const length = Buffer.alloc(LENGTH_BYTES);
  length.writeUInt32BE(head.length);
  const sealed = keyring.seal(credential, context, Buffer.concat([length, head, response.body]));

  return { kind: 'sealed', sealed: ownedBuffer(sealed) };
}

/** Returns the entry's response, or undefined when a sealed payload does not open with this credential. */
export function openPayload(
  entry: CacheEntry,
  keyring: CacheKeyring | undefined,
  credential: string | undefined,
): StoredResponse | undefined {
  const { payload } = entry;
  if (payload.kind === 'clear') {
    // A clear entry is only ever under a primary key without a credential tag.
    return { status: entry.status, headers: payload.headers, body: payload.body };
  }
  if (keyring === undefined || credential === undefined) return undefined;

  const plain = keyring.open(credential, entry.key, payload.sealed);
  if (plain === undefined || plain.length < LENGTH_BYTES) return undefined;

  const headLength = plain.readUInt32BE(0);
  const bodyStart = LENGTH_BYTES + headLength;
  if (bodyStart > plain.length) return undefined;
  const headers = JSON.parse(plain.subarray(LENGTH_BYTES, bodyStart).toString()) as StoredHeaders;

  return { status: entry.status, headers, body: plain.subarray(bodyStart) };
}

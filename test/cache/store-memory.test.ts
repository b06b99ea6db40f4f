import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { ResponseCache } from '../../agent/cache/cache.ts';
import { CacheKeyring } from '../../agent/cache/crypto.ts';
import { CacheCounters } from '../../agent/cache/stats.ts';
import { cacheRequest, hostPolicy } from './helpers.ts';

// The heap checks force full collections through V8's gc(), exposed at run
// time so the test needs no special node flags.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap plus external memory (Buffers live outside the V8 heap) after full collections. */
function memoryInUse(): number {
  gc();
  gc();
  const usage = process.memoryUsage();

  return usage.heapUsed + usage.external;
}

const MiB = 1024 * 1024;

function storeOne(
  cache: ResponseCache,
  path: string,
  body: Buffer,
  headers: Record<string, string> = {},
) {
  const plan = cache.plan(
    cacheRequest(path, headers, { policy: hostPolicy({ private: 'encrypt' }) }),
  );
  if (plan.kind !== 'lookup') throw new Error(`expected a lookup for ${path}`);
  const now = Date.now();

  return cache.store(
    plan.lookup,
    {
      status: 200,
      headers: { 'content-type': 'application/octet-stream', etag: `"${path}"` },
      body,
    },
    { requestTime: now, responseTime: now },
  );
}

describe('cache memory bounds', () => {
  it('stays within maxBytes while writing ten times the budget', () => {
    const maxBytes = 4 * MiB;
    const counters = new CacheCounters();
    const cache = new ResponseCache(
      { maxEntries: 100_000, maxBytes, maxEntryBytes: 64 * 1024 },
      { telemetry: counters, keyring: new CacheKeyring(randomBytes(32)) },
    );
    const before = memoryInUse();

    let written = 0;
    let maxAccounted = 0;
    let stored = 0;
    for (let i = 0; written < 10 * maxBytes; i++) {
      const size = 512 + ((i * 7919) % (48 * 1024));
      // Every fourth response is private, so sealed payloads are in the mix.
      const headers: Record<string, string> =
        i % 4 === 0 ? { authorization: `Bearer user-${i % 50}` } : {};
      if (storeOne(cache, `/blob/${i}`, Buffer.alloc(size, i & 0xff), headers)) stored++;
      written += size;
      maxAccounted = Math.max(maxAccounted, cache.bytes);
    }
    const after = memoryInUse();

    expect(maxAccounted).toBeLessThanOrEqual(maxBytes);
    expect(cache.bytes).toBeGreaterThan(maxBytes / 2);
    expect(counters.evictions).toBe(stored - cache.entries);
    // Loose: compiled code and collector slack add about half a MiB, so growth
    // beyond maxBytes plus 2 MiB means memory the accounting does not see.
    expect(after - before).toBeLessThan(maxBytes + 2 * MiB);
  });

  it('accounts at least the memory small entries use', () => {
    const cache = new ResponseCache({
      maxEntries: 100_000,
      maxBytes: 1024 * MiB,
      maxEntryBytes: MiB,
    });
    const count = 20_000;
    const body = Buffer.from('{"ok":true}');
    const before = memoryInUse();
    for (let i = 0; i < count; i++) storeOne(cache, `/v1/items/${i}?page=${i % 7}`, body);
    const after = memoryInUse();

    expect(cache.entries).toBe(count);
    // The requests built inside storeOne are garbage by now, so the growth is the entries.
    expect(after - before).toBeLessThan(cache.bytes);
  });
});

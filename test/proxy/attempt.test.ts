import { Writable } from 'node:stream';
import type { Dispatcher, Pool } from 'undici';
import { describe, expect, it } from 'vitest';
import { attempt, type AttemptRequest } from '../../agent/proxy/upstream.ts';

// The attempt handler against a scripted dispatcher: the exact order of
// undici's callbacks decides these cases, and a real socket cannot hit the
// narrow windows reliably. The real-server behaviour is covered in
// forward.test.ts and timeouts.test.ts.

interface Script {
  (handler: Dispatcher.DispatchHandler, controller: Dispatcher.DispatchController): void;
}

function scriptedPool(script: Script): { pool: Pool; aborted: unknown[] } {
  const aborted: unknown[] = [];
  const controller = {
    paused: false,
    aborted: false,
    reason: null,
    abort(reason: unknown) {
      aborted.push(reason);
    },
    pause() {},
    resume() {},
  } as unknown as Dispatcher.DispatchController;
  const pool = {
    dispatch(_options: unknown, handler: Dispatcher.DispatchHandler) {
      queueMicrotask(() => script(handler, controller));

      return true;
    },
  } as unknown as Pool;

  return { pool, aborted };
}

function request(overrides: Partial<AttemptRequest> = {}): AttemptRequest {
  return {
    method: 'GET',
    path: '/',
    headers: [],
    body: null,
    readMs: 1000,
    signal: new AbortController().signal,
    ...overrides,
  };
}

/** Returns a client response that accepts writes but never flushes them. */
function stuckSink(): Writable {
  return new Writable({ write() {} });
}

describe('attempt', () => {
  it('settles when the client leaves after the upstream finished', { timeout: 3000 }, async () => {
    const sink = stuckSink();
    const { pool } = scriptedPool((handler, controller) => {
      handler.onRequestStart?.(controller, {});
      handler.onResponseStart?.(controller, 200, {}, 'OK');
      handler.onResponseData?.(controller, Buffer.from('body'));
      handler.onResponseEnd?.(controller, {});
      // undici is done with the request; now the client goes away.
      sink.destroy();
    });

    await expect(attempt(pool, request(), () => sink)).rejects.toMatchObject({
      code: 'ERR_STREAM_PREMATURE_CLOSE',
    });
  });

  it('resolves once the sink has finished', async () => {
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk);
        callback();
      },
    });
    const { pool } = scriptedPool((handler, controller) => {
      handler.onRequestStart?.(controller, {});
      handler.onResponseStart?.(controller, 200, {}, 'OK');
      handler.onResponseData?.(controller, Buffer.from('a'));
      handler.onResponseData?.(controller, Buffer.from('b'));
      handler.onResponseEnd?.(controller, {});
    });

    await attempt(pool, request(), () => sink);

    expect(Buffer.concat(chunks).toString()).toBe('ab');
  });

  it('rejects with the signal reason before a socket is assigned', async () => {
    const controller = new AbortController();
    const { pool } = scriptedPool(() => {
      // Never reaches onRequestStart: the request waits in the pool.
    });

    const pending = attempt(pool, request({ signal: controller.signal }), () => stuckSink());
    controller.abort(new Error('deadline'));

    await expect(pending).rejects.toThrow('deadline');
  });

  it('starts the read timeout after the upload', async () => {
    const sink = new Writable({
      write(_chunk, _encoding, callback) {
        callback();
      },
    });
    const { pool, aborted } = scriptedPool((handler, controller) => {
      handler.onRequestStart?.(controller, {});
      // The body takes three read timeouts to upload, then the response is quick.
      setTimeout(() => {
        handler.onRequestSent?.();
        handler.onResponseStart?.(controller, 200, {}, 'OK');
        handler.onResponseEnd?.(controller, {});
      }, 90);
    });

    await attempt(pool, request({ readMs: 30 }), () => sink);

    expect(aborted).toHaveLength(0);
  });

  it('aborts with a read timeout when the headers do not come', async () => {
    const { pool, aborted } = scriptedPool((handler, controller) => {
      handler.onRequestStart?.(controller, {});
      handler.onRequestSent?.();
      setTimeout(() => handler.onResponseError?.(controller, aborted[0] as Error), 80);
    });

    await expect(attempt(pool, request({ readMs: 30 }), () => stuckSink())).rejects.toMatchObject({
      code: 'FENDER_READ_TIMEOUT',
    });
    expect(String(aborted[0])).toContain('no response headers for 30 ms');
  });
});

import type { IncomingMessage, ServerResponse } from 'node:http';
import { FenderError } from './errors.ts';

/**
 * Bodies up to this size are buffered so that a retry can resend them byte
 * for byte; larger ones stream straight through and are never retried.
 */
export const REPLAY_LIMIT_BYTES = 1024 * 1024;

export type RequestBody =
  | { readonly kind: 'none' }
  | { readonly kind: 'buffer'; readonly data: Buffer }
  /** Streamed once: `chunks` yields what was read ahead, then the rest of the request. */
  | { readonly kind: 'stream'; readonly chunks: AsyncIterable<Buffer> };

const NONE: RequestBody = { kind: 'none' };

function bodyAbortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if ((reason as { kind?: string } | null)?.kind === 'client_closed') {
    return new FenderError('client_closed', 'the client closed the connection during its upload');
  }

  return new FenderError(
    'request_timeout',
    'the request body did not arrive before the request deadline (timeouts.total)',
  );
}

function tooLarge(limit: number): FenderError {
  return new FenderError(
    'request_too_large',
    `request body is larger than limits.maxRequestBytes (${limit} bytes)`,
  );
}

/** Tells whether the request carries a body at all (RFC 9112 section 6.3). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return length !== '0';

  return req.headers['transfer-encoding'] !== undefined;
}

/**
 * Reads the request body as far as the replay limit allows. Throws
 * `request_too_large` as soon as the declared or the counted size passes
 * `maxBytes`. A streamed body that passes it later fails its upstream
 * request with the same error.
 */
export async function readRequestBody(
  req: IncomingMessage,
  res: ServerResponse,
  maxBytes: number,
  signal: AbortSignal,
): Promise<RequestBody> {
  if (!hasBody(req)) return NONE;

  const declared = req.headers['content-length'];
  const length = declared === undefined ? undefined : Number(declared);
  if (length !== undefined && length > maxBytes) throw tooLarge(maxBytes);

  // The client sent Expect: 100-continue and waits for this before the body.
  if (req.headers.expect !== undefined) res.writeContinue();

  const ahead: Buffer[] = [];
  let size = 0;
  // The request's deadline (or the client leaving) ends a stalled upload.
  // The socket stays open, so the client still gets the error response.
  const aborted = new Promise<never>((_resolve, reject) => {
    if (signal.aborted) reject(bodyAbortError(signal));
    else signal.addEventListener('abort', () => reject(bodyAbortError(signal)), { once: true });
  });
  aborted.catch(() => {});
  const iterator = req[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const readAhead = Math.min(REPLAY_LIMIT_BYTES, maxBytes);
  while (size <= readAhead && (length === undefined || length <= REPLAY_LIMIT_BYTES)) {
    const next = await Promise.race([iterator.next(), aborted]);
    if (next.done === true) {
      return {
        kind: 'buffer',
        data: ahead.length === 1 ? (ahead[0] as Buffer) : Buffer.concat(ahead, size),
      };
    }
    ahead.push(next.value);
    size += next.value.length;
    if (size > maxBytes) throw tooLarge(maxBytes);
  }

  return { kind: 'stream', chunks: rest(ahead, size, iterator, maxBytes) };
}

async function* rest(
  ahead: Buffer[],
  aheadSize: number,
  iterator: AsyncIterator<Buffer>,
  maxBytes: number,
): AsyncGenerator<Buffer> {
  yield* ahead;
  let size = aheadSize;
  for (;;) {
    const next = await iterator.next();
    if (next.done === true) return;
    size += next.value.length;
    if (size > maxBytes) throw tooLarge(maxBytes);
    yield next.value;
  }
}

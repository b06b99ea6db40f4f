import type { LookupFunction } from 'node:net';
import { finished, type Readable, type Writable } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import type { AttemptOutcome } from '../policy/outcome.ts';

/** Options that make two pools different even for one origin. */
export interface PoolOptions {
  readonly connectMs: number;
  /** Resolver that refuses forbidden destinations (loopback for passthrough, Fender's own listeners). */
  readonly lookup?: LookupFunction;
  /** Names the lookup in the pool key: pools with different guards are never shared. */
  readonly lookupKey: string;
}

/** The upstream of one concrete host's attempts, resolved once per host and policy. */
export interface UpstreamSpec {
  /** `http://host:port` or `https://host:port`. */
  readonly origin: string;
  readonly options: PoolOptions;
  /** The pool key. */
  readonly key: string;
}

export function upstreamSpec(origin: string, options: PoolOptions): UpstreamSpec {
  return { origin, options, key: `${origin}|${options.connectMs}|${options.lookupKey}` };
}

/** Idle pools are closed after this long, so names seen once do not hold sockets forever. */
const POOL_IDLE_MS = 5 * 60_000;
/** Upper bound on open pools; the least recently used one is closed past it. */
const MAX_POOLS = 2048;

interface PoolEntry {
  readonly pool: Pool;
  lastUsed: number;
}

/**
 * One keep-alive undici Pool per upstream origin and connect policy. Pools
 * left unused are closed gracefully (in-flight requests finish first), which
 * is also how a pool whose host changed upstream on reload is drained.
 */
export class Pools {
  readonly #pools = new Map<string, PoolEntry>();
  readonly #sweep: NodeJS.Timeout;

  constructor() {
    this.#sweep = setInterval(() => this.sweep(Date.now() - POOL_IDLE_MS), 60_000);
    this.#sweep.unref();
  }

  get(spec: UpstreamSpec): Pool {
    const { key, origin, options } = spec;
    const entry = this.#pools.get(key);
    if (entry !== undefined) {
      entry.lastUsed = Date.now();

      return entry.pool;
    }
    if (this.#pools.size >= MAX_POOLS) this.#closeOldest();

    const pool = new Pool(origin, {
      connect: {
        timeout: options.connectMs,
        ...(options.lookup === undefined ? {} : { lookup: options.lookup }),
      },
      // HTTP/1.1 to every upstream: hop-by-hop handling and streaming are
      // the same for all hosts, and the upstream receives what the application sent.
      allowH2: false,
      keepAliveTimeout: 4_000,
    });
    this.#pools.set(key, { pool, lastUsed: Date.now() });

    return pool;
  }

  /** Closes pools not used since `before` (ms since epoch). */
  sweep(before: number): void {
    for (const [key, entry] of this.#pools) {
      if (entry.lastUsed < before) {
        this.#pools.delete(key);
        void entry.pool.close().catch(() => {});
      }
    }
  }

  #closeOldest(): void {
    let oldestKey: string | undefined;
    let oldest = Infinity;
    for (const [key, entry] of this.#pools) {
      if (entry.lastUsed < oldest) {
        oldest = entry.lastUsed;
        oldestKey = key;
      }
    }
    if (oldestKey === undefined) return;

    const entry = this.#pools.get(oldestKey) as PoolEntry;
    this.#pools.delete(oldestKey);
    void entry.pool.close().catch(() => {});
  }

  async close(): Promise<void> {
    clearInterval(this.#sweep);
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((entry) => entry.pool.close().catch(() => {})));
  }
}

const CONNECT_ERRORS = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'FENDER_DESTINATION_FORBIDDEN',
]);

const TIMEOUT_ERRORS = new Set([
  'FENDER_READ_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** The class of an upstream error; `connect-failure` means no request byte reached the upstream. */
export type FailureKind =
  'connect-failure' | 'reset' | 'timeout' | 'invalid-response' | 'forbidden';

export function errorCode(error: unknown): string | undefined {
  if (error instanceof AggregateError) return errorCode(error.errors[0]);
  const code = (error as { code?: unknown } | null)?.code;

  return typeof code === 'string' ? code : undefined;
}

/** Sorts an undici or socket error into the outcome classes the policies use. */
export function classifyError(error: unknown): FailureKind {
  const code = errorCode(error);
  if (code === 'FENDER_DESTINATION_FORBIDDEN') return 'forbidden';
  if (code !== undefined && CONNECT_ERRORS.has(code)) return 'connect-failure';
  // TLS handshake failures (certificate, protocol) happen before any request byte is written.
  if (
    code !== undefined &&
    (code.startsWith('ERR_TLS_') ||
      code.startsWith('ERR_SSL_') ||
      /CERT|SELF_SIGNED|UNABLE_TO/.test(code))
  ) {
    return 'connect-failure';
  }
  if (code !== undefined && TIMEOUT_ERRORS.has(code)) return 'timeout';
  const name = (error as { name?: unknown } | null)?.name;
  if (
    name === 'HTTPParserError' ||
    code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' ||
    code?.startsWith('HPE_') === true
  ) {
    return 'invalid-response';
  }

  return 'reset';
}

export function outcomeOfFailure(kind: FailureKind): AttemptOutcome {
  switch (kind) {
    case 'connect-failure':
    case 'forbidden':
      return { kind: 'connect-failure' };
    case 'timeout':
      return { kind: 'timeout' };
    default:
      return { kind: 'reset' };
  }
}

export interface AttemptRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: string[];
  readonly body: Buffer | Readable | null;
  readonly readMs: number;
  readonly signal: AbortSignal;
}

/**
 * Called once the upstream's response headers arrive. It returns where the
 * body goes: the client's response when this response is final, or a sink
 * that drains it when the attempt will be retried.
 */
export type BodyTarget = (
  status: number,
  headers: Record<string, string | string[] | undefined>,
) => Writable;

/** The read timeout fired: no headers, or no body bytes, for `readMs`. */
export class ReadTimeoutError extends Error {
  readonly code = 'FENDER_READ_TIMEOUT';

  constructor(readMs: number, phase: 'headers' | 'body') {
    super(`no response ${phase} for ${readMs} ms (read timeout)`);
    this.name = 'ReadTimeoutError';
  }
}

/**
 * The undici handler of one attempt. It writes the body straight into the
 * target (the client's response, with backpressure through pause/resume)
 * and keeps its own read timer: undici's headersTimeout and bodyTimeout
 * tick at about half a second, too coarse for sub-second read timeouts.
 */
class AttemptHandler implements Dispatcher.DispatchHandler {
  readonly #readMs: number;
  readonly #target: BodyTarget;
  readonly #signal: AbortSignal;
  readonly #resolve: () => void;
  readonly #reject: (error: unknown) => void;
  #controller: Dispatcher.DispatchController | undefined;
  #timer: NodeJS.Timeout | undefined;
  #sink: Writable | undefined;
  #settled = false;

  constructor(
    request: AttemptRequest,
    target: BodyTarget,
    resolve: () => void,
    reject: (error: unknown) => void,
  ) {
    this.#readMs = request.readMs;
    this.#target = target;
    this.#signal = request.signal;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#signal.addEventListener('abort', this.#onAbort);
  }

  readonly #onAbort = (): void => {
    this.#controller?.abort(this.#signal.reason);
    // Not yet on a socket: undici has no controller to abort, so end here.
    if (this.#controller === undefined) this.#fail(this.#signal.reason);
  };

  readonly #onTimeout = (): void => {
    const phase = this.#sink === undefined ? 'headers' : 'body';
    this.#controller?.abort(new ReadTimeoutError(this.#readMs, phase));
  };

  readonly #onDrain = (): void => {
    this.#controller?.resume();
  };

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#signal.aborted) controller.abort(this.#signal.reason);
  }

  // The wait for headers starts once the whole request is written, so a
  // slow upload is bounded by the total deadline, not by the read timeout.
  onRequestSent(): void {
    if (this.#sink === undefined) this.#armTimer();
  }

  #armTimer(): void {
    if (this.#timer === undefined) this.#timer = setTimeout(this.#onTimeout, this.#readMs);
    else this.#timer.refresh();
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    // 1xx responses are informational, and the final response follows.
    if (statusCode < 200) return;

    const sink = this.#target(statusCode, headers);
    this.#sink = sink;
    sink.on('drain', this.#onDrain);
    finished(sink, (error) => {
      if (error === undefined || error === null) {
        this.#succeed();

        return;
      }
      // The client went away. undici's request may already be complete, in
      // which case abort() does nothing and no error callback follows, so
      // the attempt settles here.
      this.#controller?.abort(error);
      this.#fail(error);
    });
    this.#armTimer();
    if (sink.writableNeedDrain) controller.pause();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#timer?.refresh();
    if (this.#sink?.write(chunk) === false) controller.pause();
  }

  onResponseEnd(): void {
    clearTimeout(this.#timer);
    this.#signal.removeEventListener('abort', this.#onAbort);
    // Settles through finished() once the sink has flushed.
    this.#sink?.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.#sink !== undefined && !this.#sink.destroyed) this.#sink.destroy(error);
    this.#fail(error);
  }

  #succeed(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#resolve();
  }

  #fail(error: unknown): void {
    clearTimeout(this.#timer);
    this.#signal.removeEventListener('abort', this.#onAbort);
    if (this.#settled) return;
    this.#settled = true;
    this.#reject(error);
  }
}

/**
 * One upstream attempt. Resolves once the body has been written to the
 * target; rejects with the undici, socket or timeout error otherwise (after
 * headers, the target is destroyed, which aborts the client connection).
 */
export function attempt(pool: Pool, request: AttemptRequest, target: BodyTarget): Promise<void> {
  return new Promise((resolve, reject) => {
    const handler = new AttemptHandler(request, target, resolve, reject);
    if (request.signal.aborted) {
      reject(request.signal.reason);

      return;
    }
    pool.dispatch(
      {
        path: request.path,
        method: request.method as Dispatcher.HttpMethod,
        headers: request.headers,
        body: request.body,
        headersTimeout: 0,
        bodyTimeout: 0,
      },
      handler,
    );
  });
}

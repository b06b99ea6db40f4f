import { Writable } from 'node:stream';

// Where the body of a response the cache may store goes while it arrives:
// held in memory up to a limit, so it can be stored and then sent whole.
// Past the limit the body can never be stored, so what was held is handed
// on and the rest streams through without being buffered.

/**
 * Bytes that all sinks may hold at one time. Without it, memory for bodies
 * in transit would grow with concurrency times maxEntryBytes, outside the
 * cache's own byte limit.
 */
export class BufferBudget {
  readonly #limit: number;
  #held = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  get held(): number {
    return this.#held;
  }

  /** Reserves `bytes`; returns false, reserving nothing, when that would pass the limit. */
  tryReserve(bytes: number): boolean {
    if (this.#held + bytes > this.#limit) return false;

    this.#held += bytes;

    return true;
  }

  release(bytes: number): void {
    this.#held -= bytes;
  }
}

export interface BufferingSinkOptions {
  /** Most body bytes held; one byte more switches to streaming. */
  readonly limit: number;
  /** Shared with the other sinks; a body that finds it used up streams through as well. */
  readonly budget: BufferBudget;
  /** Receives the whole body when it ended within the limit. */
  readonly onComplete: (body: Buffer) => void;
  /** Called once, when the body passes the limit; returns the stream that gets the rest. */
  readonly onOverflow: () => Writable;
}

/** Writes `chunk`, calling `callback` once `target` can take more (or has closed). */
function writeWithBackpressure(target: Writable, chunk: Buffer, callback: () => void): void {
  if (target.write(chunk)) {
    callback();

    return;
  }
  const resume = (): void => {
    target.off('drain', resume);
    target.off('close', resume);
    callback();
  };
  target.on('drain', resume);
  target.on('close', resume);
}

export class BufferingSink extends Writable {
  readonly #options: BufferingSinkOptions;
  #chunks: Buffer[] = [];
  #size = 0;
  /** Bytes reserved from the budget for `#chunks`. */
  #reserved = 0;
  #through: Writable | undefined;

  constructor(options: BufferingSinkOptions) {
    super();
    this.#options = options;
  }

  /** Reports whether the body passed a limit and is streaming through. */
  get overflowed(): boolean {
    return this.#through !== undefined;
  }

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    if (this.#through !== undefined) {
      writeWithBackpressure(this.#through, chunk, callback);

      return;
    }
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    if (this.#size <= this.#options.limit && this.#options.budget.tryReserve(chunk.length)) {
      this.#reserved += chunk.length;
      callback();

      return;
    }

    this.#through = this.#options.onOverflow();
    const held = this.#takeHeld();
    writeWithBackpressure(this.#through, held, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.#through !== undefined) {
      this.#through.end(() => callback());

      return;
    }
    const body = this.#takeHeld();
    try {
      this.#options.onComplete(body);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#takeHeld();
    callback(error);
  }

  /** Returns the held body as one buffer and gives its reservation back to the budget. */
  #takeHeld(): Buffer {
    const body = Buffer.concat(this.#chunks, this.#size);
    this.#options.budget.release(this.#reserved);
    this.#chunks = [];
    this.#size = 0;
    this.#reserved = 0;

    return body;
  }
}

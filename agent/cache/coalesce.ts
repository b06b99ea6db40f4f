// Request coalescing: while one request for a key is in flight upstream,
// later requests for the same key wait for its result instead of sending
// their own. The leader's promise settles exactly when its fetch does, so a
// waiter never outlives the leader's own timeouts, and it can stop earlier
// through its own abort signal.

/**
 * Waiters per in-flight key. Past it, requests go upstream on their own.
 * The cap bounds the burst that follows a leader whose response cannot be
 * shared (another `Vary` variant, `no-store`, over maxEntryBytes): every
 * waiter then sends its own request at the same moment, so the cap also
 * bounds that burst.
 */
export const DEFAULT_MAX_WAITERS = 64;

export type Role = 'leader' | 'waiter' | 'alone';

export interface Joined<T> {
  /** `alone`: the key's waiter limit is reached, and `result` is the caller's own fetch. */
  readonly role: Role;
  readonly result: Promise<T>;
}

interface Flight<T> {
  readonly promise: Promise<T>;
  waiters: number;
}

export class Coalescer<T> {
  readonly #flights = new Map<string, Flight<T>>();
  readonly #maxWaiters: number;

  constructor(maxWaiters = DEFAULT_MAX_WAITERS) {
    this.#maxWaiters = maxWaiters;
  }

  /** In-flight keys; bounded by the requests in flight, since each key has a running leader. */
  get size(): number {
    return this.#flights.size;
  }

  /**
   * Joins the flight for `key`, or starts it with `fetch` when there is
   * none. A waiter's `result` settles with the leader's: the same value, or
   * the same rejection.
   */
  run(key: string, fetch: () => Promise<T>): Joined<T> {
    const flight = this.#flights.get(key);
    if (flight === undefined) return { role: 'leader', result: this.#lead(key, fetch) };
    if (flight.waiters >= this.#maxWaiters) return { role: 'alone', result: startFetch(fetch) };

    flight.waiters++;

    return { role: 'waiter', result: flight.promise };
  }

  /** Reports whether a fetch for `key` is in flight. */
  inFlight(key: string): boolean {
    return this.#flights.has(key);
  }

  #lead(key: string, fetch: () => Promise<T>): Promise<T> {
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    const flight: Flight<T> = { promise, waiters: 0 };
    this.#flights.set(key, flight);
    // The flight leaves the map before it settles, so a waiter that reacts
    // to the result by fetching again starts a new flight, not this one.
    const finish = (): void => {
      if (this.#flights.get(key) === flight) this.#flights.delete(key);
    };
    startFetch(fetch).then(
      (value) => {
        finish();
        resolve(value);
      },
      (error: unknown) => {
        finish();
        reject(error);
      },
    );

    return promise;
  }
}

/** Calls `fetch`, turning a synchronous throw into a rejection. */
function startFetch<T>(fetch: () => Promise<T>): Promise<T> {
  try {
    return fetch();
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Waits for `promise`, or rejects with the signal's reason as soon as `signal` aborts. */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);

  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

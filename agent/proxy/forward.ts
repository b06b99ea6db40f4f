import { Readable, Writable } from 'node:stream';
import { isIP } from 'node:net';
import type { AttemptOutcome } from '../policy/outcome.ts';
import type { RetryDecision } from '../policy/retry.ts';
import { formatDeadlineHeader } from './deadline.ts';
import { guardedLookup, isForbiddenPassthroughAddress, isLocalAddress } from './destination.ts';
import { FenderError } from './errors.ts';
import { AbortReason, type Exchange } from './exchange.ts';
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.ts';
import type { RequestBody } from './request-body.ts';
import {
  attempt,
  classifyError,
  errorCode,
  outcomeOfFailure,
  upstreamSpec,
  type Pools,
  type UpstreamSpec,
} from './upstream.ts';

/** The end of one attempt, as the retry step handles it. */
export type AttemptEnd =
  /** The response went to the client in full. */
  | { readonly kind: 'done'; readonly outcome: AttemptOutcome }
  /** The response was drained, not sent: another attempt follows. */
  | { readonly kind: 'retry'; readonly delayMs: number; readonly reason: string }
  /** Headers went out, then the body failed; the client connection was cut. `outcome` is unset when the client left. */
  | { readonly kind: 'aborted'; readonly outcome?: AttemptOutcome; readonly detail: string }
  /** Nothing went to the client. `outcome` is unset when the request was aborted locally. */
  | {
      readonly kind: 'failed';
      readonly outcome?: AttemptOutcome;
      readonly detail: string;
      /** A failure Fender raised itself (destination guard, body limit): not held against the upstream. */
      readonly local?: FenderError;
    };

export interface AttemptHooks {
  /** Decides at the response headers whether this response is final. */
  decide(outcome: AttemptOutcome, retryAfter: string | string[] | undefined): RetryDecision;
}

/** Drains the body of a response that will be retried, keeping its connection reusable. */
function discard(): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}

function bodyOf(body: RequestBody): Buffer | Readable | null {
  switch (body.kind) {
    case 'none':
      return null;
    case 'buffer':
      return body.data;
    case 'stream':
      return Readable.from(body.chunks, { objectMode: false });
  }
}

const PASSTHROUGH_LOOKUP = guardedLookup(
  isForbiddenPassthroughAddress,
  'passthrough hosts may not reach loopback, link-local or this pod',
);

/**
 * Resolves where the exchange's attempts go, with the destination guards
 * its host needs. Throws FenderError `destination_forbidden`.
 */
function resolveUpstream(x: Exchange, ownPorts: ReadonlySet<number>): UpstreamSpec {
  const route = x.route as NonNullable<Exchange['route']>;
  const origin = new URL(route.upstream);
  const connectMs = route.policy.timeouts.connectMs;
  const literal = origin.hostname.replace(/^\[|\]$/g, '');
  if (!route.configured) {
    if (isIP(literal) !== 0 && isForbiddenPassthroughAddress(literal)) {
      throw new FenderError(
        'destination_forbidden',
        `${route.host} is a loopback, link-local or local address`,
      );
    }

    return upstreamSpec(origin.origin, {
      connectMs,
      lookup: PASSTHROUGH_LOOKUP,
      lookupKey: 'passthrough',
    });
  }
  const defaultPort = origin.protocol === 'https:' ? 443 : 80;
  const port = origin.port === '' ? defaultPort : Number(origin.port);
  if (!ownPorts.has(port)) return upstreamSpec(origin.origin, { connectMs, lookupKey: '' });

  // The upstream shares a port with one of Fender's listeners: allowed only
  // when it does not resolve to this machine.
  if (isIP(literal) !== 0 && isLocalAddress(literal)) {
    throw new FenderError(
      'destination_forbidden',
      `${route.upstream} is one of Fender's own listeners`,
    );
  }

  return upstreamSpec(origin.origin, {
    connectMs,
    lookup: guardedLookup(
      isLocalAddress,
      `port ${port} on this machine is one of Fender's own listeners`,
    ),
    lookupKey: `own:${port}`,
  });
}

/**
 * Sends one attempt upstream and streams its response to the client, unless
 * `hooks.decide` chooses to retry. Never throws for upstream failures: they
 * come back as an AttemptEnd.
 */
export async function sendUpstreamAttempt(
  pools: Pools,
  ownPorts: ReadonlySet<number>,
  x: Exchange,
  body: RequestBody,
  hooks: AttemptHooks,
): Promise<AttemptEnd> {
  const route = x.route as NonNullable<Exchange['route']>;
  const target = x.target as NonNullable<Exchange['target']>;
  const state = x.state as NonNullable<Exchange['state']>;
  let upstream = state.upstream;
  if (upstream === undefined) {
    try {
      upstream = resolveUpstream(x, ownPorts);
    } catch (error) {
      return { kind: 'failed', detail: (error as Error).message, local: error as FenderError };
    }
    state.upstream = upstream;
  }
  const pool = pools.get(upstream as UpstreamSpec);
  const headers = upstreamRequestHeaders(x.req.rawHeaders, x.req.headers.connection);
  headers.push('x-request-id', x.requestId, 'x-fender-timeout', formatDeadlineHeader(x.timeLeft()));

  let decision: RetryDecision | undefined;
  let committed = false;
  let upstreamStatus = 0;
  try {
    await attempt(
      pool,
      {
        method: x.req.method ?? 'GET',
        path: target.pathAndQuery,
        headers,
        body: bodyOf(body),
        readMs: route.policy.timeouts.readMs,
        signal: x.signal,
      },
      (status, upstreamHeaders) => {
        decision = hooks.decide({ kind: 'response', status }, upstreamHeaders['retry-after']);
        if (decision.retry) return discard();

        committed = true;
        upstreamStatus = status;
        const out = clientResponseHeaders(upstreamHeaders);
        out['x-request-id'] = x.requestId;
        out['x-fender-attempts'] = String(x.attempts);
        if (x.responseTarget !== undefined) return x.responseTarget(status, out);
        x.res.writeHead(status, out);

        return x.res;
      },
    );
  } catch (error) {
    return failure(x, error, committed, decision);
  }
  if (decision?.retry === true)
    return { kind: 'retry', delayMs: decision.delayMs, reason: decision.reason };

  // The upstream's status, which the client may not get: the cache step can
  // send a stale entry instead.
  return { kind: 'done', outcome: { kind: 'response', status: upstreamStatus } };
}

function failure(
  x: Exchange,
  error: unknown,
  committed: boolean,
  decision: RetryDecision | undefined,
): AttemptEnd {
  // A retried response whose drain failed is still retried.
  if (decision?.retry === true && !x.signal.aborted) {
    return { kind: 'retry', delayMs: decision.delayMs, reason: decision.reason };
  }
  // undici rejects with the signal's reason when the request was aborted
  // here, and with a premature-close error when the client went away while
  // the body streamed. Anything else is the upstream's failure, even when
  // undici's own teardown of the response closed the client side afterwards.
  const aborted = error instanceof AbortReason ? error.kind : undefined;
  const clientGone =
    aborted === 'client_closed' || errorCode(error) === 'ERR_STREAM_PREMATURE_CLOSE';
  const kind = classifyError(error);
  const detail = clientGone ? 'the client closed the connection' : describe(error, kind);
  // A request cut by its own deadline counts against the upstream as a timeout.
  const outcome: AttemptOutcome | undefined = clientGone
    ? undefined
    : aborted === 'deadline'
      ? { kind: 'timeout' }
      : outcomeOfFailure(kind);
  // A response target may still hold the body unsent (the cache buffers
  // it), and then nothing reached the client.
  if (committed && x.res.headersSent) {
    // A reset rather than a clean close, so that even an HTTP/1.0 client,
    // whose body ends at the close, cannot take the cut body for a whole one.
    x.req.socket.resetAndDestroy();

    return outcome === undefined
      ? { kind: 'aborted', detail }
      : { kind: 'aborted', outcome, detail };
  }
  if (kind === 'forbidden') {
    return { kind: 'failed', detail, local: new FenderError('destination_forbidden', detail) };
  }
  // The request body failed locally (over maxRequestBytes, or the client
  // stalled): nothing to hold against the upstream.
  if (error instanceof FenderError) return { kind: 'failed', detail, local: error };

  return outcome === undefined ? { kind: 'failed', detail } : { kind: 'failed', outcome, detail };
}

function describe(error: unknown, kind: string): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  const prefix = kind === 'invalid-response' ? 'invalid response: ' : '';

  const named = typeof code === 'string' && !message.includes(code) ? `${code} ` : '';

  return `${prefix}${named}${message}`.slice(0, 300);
}

import { setTimeout as sleep } from 'node:timers/promises';
import type { CacheTier } from '../cache/tier.ts';
import type { HostState, HostStates } from '../hosts.ts';
import type { BreakerPermit } from '../policy/breaker.ts';
import { attemptResult, matchesOutcome, type AttemptOutcome } from '../policy/outcome.ts';
import { decideRetry, type RetryDecision } from '../policy/retry.ts';
import { parseRetryAfter } from '../policy/retry-after.ts';
import type { Telemetry } from '../telemetry/events.ts';
import { parseDeadlineHeader } from './deadline.ts';
import { FenderError } from './errors.ts';
import type { Exchange } from './exchange.ts';
import { sendUpstreamAttempt, type AttemptEnd } from './forward.ts';
import type { Pools } from './upstream.ts';
import { readRequestBody, type RequestBody } from './request-body.ts';
import { parseTarget } from './target.ts';

/** The parts of the agent the chain uses. */
export interface ChainContext {
  readonly hosts: HostStates;
  readonly pools: Pools;
  readonly telemetry: Telemetry;
  readonly cache: CacheTier;
  /** Ports of Fender's own listeners, which no upstream may reach. */
  readonly ownPorts: ReadonlySet<number>;
  /** Requests in flight across the agent, for `limits.maxInFlight`. */
  inFlight: number;
}

// The request path, in one place. A proxied request passes
//
//   route → limits → cache → breaker → retry → attempt (timeouts) → upstream pool
//
// and the response walks back through the same steps: the attempt's outcome
// settles the breaker permit, the retry step decides whether the client gets
// this response or another attempt is made, and the limits are released last.
// Fender's own failures are FenderErrors; the listener turns them into the
// contract's JSON error responses.
export async function proxy(ctx: ChainContext, x: Exchange): Promise<void> {
  const state = route(ctx, x);
  const release = limits(ctx, x, state);
  try {
    // The cache step serves hits without touching the breaker, and stale
    // entries when the breaker or upstream fails.
    await ctx.cache.handle(x, () => breakerAndRetry(ctx, x, state));
  } finally {
    release();
  }
}

/** route: host key to policy, concrete host state and deadline. */
function route(ctx: ChainContext, x: Exchange): HostState {
  const target = parseTarget(x.req.url ?? '', x.req.headers.host);
  x.target = target;
  const matched = x.config.router.route(target.authority, target.hostname, target.port);
  if (matched === undefined) {
    throw new FenderError(
      'unknown_host',
      `host ${target.authority} is not configured; add it under hosts, or set unknownHosts: passthrough`,
    );
  }
  x.route = matched;

  const total = matched.policy.timeouts.totalMs;
  const requested = parseDeadlineHeader(x.req.headers['x-fender-timeout']);
  x.setDeadline(requested === undefined ? total : Math.min(total, requested));

  const state = ctx.hosts.get(matched.host, matched.policy);
  x.state = state;

  return state;
}

/** limits: the agent-wide and per-host bulkheads. Returns their release. */
function limits(ctx: ChainContext, x: Exchange, state: HostState): () => void {
  const policy = (x.route as NonNullable<Exchange['route']>).policy;
  if (ctx.inFlight >= x.config.snapshot.limits.maxInFlight) {
    throw new FenderError(
      'overloaded',
      `the agent has ${ctx.inFlight} requests in flight (limits.maxInFlight)`,
      {
        retryAfterSeconds: 1,
      },
    );
  }
  if (state.inFlight >= policy.limits.maxInFlight) {
    throw new FenderError(
      'overloaded',
      `${state.host} has ${state.inFlight} requests in flight (limits.maxInFlight of ${policy.key})`,
      { retryAfterSeconds: 1 },
    );
  }
  ctx.inFlight++;
  state.inFlight++;

  return () => {
    ctx.inFlight--;
    state.inFlight--;
  };
}

function circuitOpen(state: HostState, breakerState: string, retryAfterMs: number): FenderError {
  return new FenderError(
    'circuit_open',
    `the circuit breaker for ${state.host} is ${breakerState}`,
    {
      retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)),
    },
  );
}

/** breaker, before the body: rejects at once while the breaker is open, without claiming anything. */
function failFastIfOpen(x: Exchange, state: HostState): void {
  const policy = (x.route as NonNullable<Exchange['route']>).policy;
  x.breaker = state.breaker.state;
  if (x.breaker !== 'open' || policy.breaker.mode === 'shadow') return;

  const view = state.breaker.view();
  const retryAfterMs = view.retryAt === null ? policy.breaker.openForMs : view.retryAt - Date.now();
  throw circuitOpen(state, 'open', retryAfterMs);
}

/** breaker: a permit per attempt; open fails fast with the time of the next probe. */
function admit(x: Exchange, state: HostState): BreakerPermit {
  const permit = state.breaker.acquire();
  x.breaker = state.breaker.state;
  if (permit.admitted) return permit;

  throw circuitOpen(state, permit.state, permit.retryAfterMs);
}

/** retry: makes attempts until one response is final, within the deadline and the budget. */
async function breakerAndRetry(ctx: ChainContext, x: Exchange, state: HostState): Promise<void> {
  const policy = (x.route as NonNullable<Exchange['route']>).policy;
  // An open breaker fails fast before the body is read, but the permit
  // (a half-open probe slot) is claimed only once the body is in: a client
  // that stalls its upload must not hold the probe.
  failFastIfOpen(x, state);
  const body = await readRequestBody(x.req, x.res, policy.limits.maxRequestBytes, x.signal);
  let permit = admit(x, state);
  state.budget.recordRequest();

  const method = x.req.method ?? 'GET';
  const idempotencyKey = x.req.headers['idempotency-key'] !== undefined;
  for (let retriesDone = 0; ; retriesDone++) {
    const decide = (outcome: AttemptOutcome, retryAfter?: string | string[]): RetryDecision => {
      const decision = decideRetry({
        policy: policy.retry,
        retriesDone,
        outcome,
        retryAfterMs: parseRetryAfter(retryAfter, Date.now()),
        method,
        idempotencyKey,
        bodyReplayable: body.kind !== 'stream',
        timeLeftMs: x.timeLeft(),
        budget: state.budget,
      });
      if (!decision.retry && decision.why === 'budget')
        ctx.telemetry.retryBudgetExhausted(policy.key);

      return decision;
    };
    const end = await attemptWithPermit(ctx, x, state, permit, body, decide);
    if (end.kind !== 'retry') return;

    ctx.telemetry.retry(policy.key, end.reason);
    await sleep(end.delayMs, undefined, { signal: x.signal }).catch(() => {});
    if (x.signal.aborted) throw abortError(x, state);
    permit = admit(x, state);
  }
}

/** attempt: one upstream exchange under the read timeout; settles the breaker permit with its outcome. */
async function attemptWithPermit(
  ctx: ChainContext,
  x: Exchange,
  state: HostState,
  permit: BreakerPermit,
  body: RequestBody,
  decide: (outcome: AttemptOutcome, retryAfter?: string | string[]) => RetryDecision,
): Promise<AttemptEnd> {
  const policy = (x.route as NonNullable<Exchange['route']>).policy;
  let settled = false;
  const settle = (outcome: AttemptOutcome | undefined): void => {
    if (settled) return;
    settled = true;
    if (outcome === undefined) {
      permit.release();

      return;
    }
    ctx.telemetry.attempt(policy.key, attemptResult(outcome));
    if (matchesOutcome(policy.breaker.failOn, outcome)) permit.failure();
    else permit.success();
  };
  x.attempts++;
  const end = await sendUpstreamAttempt(ctx.pools, ctx.ownPorts, x, body, {
    decide: (outcome, retryAfter) => {
      const decision = decide(outcome, retryAfter);
      if (!decision.retry) return decision;

      // A retry is decided at the headers, so its outcome is settled now, and
      // a breaker that just opened stops the retry: the client gets this response.
      settle(outcome);
      if (state.breaker.state === 'open' && policy.breaker.mode === 'enforce') {
        return { retry: false, why: 'not_retryable' } as const;
      }

      return decision;
    },
  });
  switch (end.kind) {
    case 'retry':
      return end;
    case 'done':
      settle(end.outcome);

      return end;
    case 'aborted':
      // Headers went out and the body failed: the client connection was cut.
      x.aborted = true;
      x.detail = end.detail;
      settle(end.outcome);

      return end;
    case 'failed': {
      x.detail = end.detail;
      if (end.local !== undefined) {
        settle(undefined);
        throw end.local;
      }
      settle(end.outcome);
      if (x.signal.aborted || end.outcome === undefined) throw abortError(x, state);

      // As at the headers: a breaker this failure opened ends the retries,
      // and the application learns what the last attempt ran into.
      const breakerOpened = state.breaker.state === 'open' && policy.breaker.mode === 'enforce';
      const decision = breakerOpened ? undefined : decide(end.outcome);
      if (decision?.retry === true) {
        return { kind: 'retry', delayMs: decision.delayMs, reason: decision.reason };
      }

      throw failureError(end.outcome, state, end.detail);
    }
  }
}

function abortError(x: Exchange, state: HostState): FenderError {
  if (x.abortKind() === 'client_closed') {
    return new FenderError('client_closed', 'the client closed the connection before the response');
  }

  return new FenderError(
    'deadline_exceeded',
    `the total deadline for ${state.host} ran out after ${x.attempts} attempt(s)`,
  );
}

function failureError(
  outcome: AttemptOutcome,
  state: HostState,
  detail: string | undefined,
): FenderError {
  const suffix = detail === undefined ? '' : `: ${detail}`;
  switch (outcome.kind) {
    case 'connect-failure':
      return new FenderError(
        'upstream_connect_failed',
        `could not connect to ${state.host}${suffix}`,
      );
    case 'timeout':
      return new FenderError(
        'upstream_timeout',
        `${state.host} did not answer within the read timeout${suffix}`,
      );
    case 'reset':
      if (detail?.startsWith('invalid response') === true) {
        return new FenderError(
          'upstream_invalid_response',
          `${state.host} sent a malformed response${suffix}`,
        );
      }

      return new FenderError(
        'upstream_reset',
        `the connection to ${state.host} was reset${suffix}`,
      );
    case 'response':
      return new FenderError(
        'upstream_reset',
        `unexpected response ${outcome.status} from ${state.host}`,
      );
  }
}

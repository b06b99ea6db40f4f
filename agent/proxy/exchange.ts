import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';
import type { Snapshot } from '../config/types.ts';
import type { HostState } from '../hosts.ts';
import type { BreakerStateName, CacheStatus } from '../telemetry/events.ts';
import type { FenderError } from './errors.ts';
import type { Route, Router } from './route.ts';
import type { Target } from './target.ts';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Takes the application's `x-request-id` when it is well formed, else makes a UUID. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];

  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/** The config a request started with; it keeps it until it ends, whatever reloads happen. */
export interface ConfigView {
  readonly snapshot: Snapshot;
  readonly router: Router;
}

/** The reason a request's controller was aborted. */
export class AbortReason extends Error {
  readonly kind: 'deadline' | 'client_closed';

  constructor(kind: 'deadline' | 'client_closed') {
    super(kind === 'deadline' ? 'total deadline exceeded' : 'client closed the connection');
    this.kind = kind;
  }
}

/** Everything one proxied request carries through the chain. */
export class Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly config: ConfigView;
  readonly requestId: string;
  readonly startedAt: number;
  readonly controller = new AbortController();
  target: Target | undefined;
  route: Route | undefined;
  state: HostState | undefined;
  /** Deadline in ms since epoch: the host's `total`, shortened by `x-fender-timeout`. */
  deadline = Infinity;
  attempts = 0;
  cache: CacheStatus | undefined;
  /**
   * Where the final upstream response goes instead of straight to `res`,
   * given its status and client headers. The cache step sets it to buffer
   * bodies it may store; it must write the headers to `res` itself.
   */
  responseTarget:
    ((status: number, headers: Record<string, string | string[]>) => Writable) | undefined;
  breaker: BreakerStateName | undefined;
  error: FenderError | undefined;
  /** The upstream failure behind an error or an aborted response, for the log. */
  detail: string | undefined;
  /** True when the response was cut off after its headers went out. */
  aborted = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(req: IncomingMessage, res: ServerResponse, config: ConfigView) {
    this.req = req;
    this.res = res;
    this.config = config;
    this.requestId = requestIdOf(req);
    this.startedAt = Date.now();
    res.once('close', () => {
      if (!res.writableFinished) this.controller.abort(new AbortReason('client_closed'));
    });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Arms the total deadline; the controller aborts when it passes. */
  setDeadline(ms: number): void {
    this.deadline = this.startedAt + ms;
    this.#timer = setTimeout(() => this.controller.abort(new AbortReason('deadline')), ms);
  }

  timeLeft(): number {
    return this.deadline - Date.now();
  }

  /** Returns the kind of abort, or undefined when the request was not aborted. */
  abortKind(): 'deadline' | 'client_closed' | undefined {
    const reason: unknown = this.controller.signal.reason;

    return reason instanceof AbortReason ? reason.kind : undefined;
  }

  done(): void {
    clearTimeout(this.#timer);
  }
}

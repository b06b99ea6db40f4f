import type { HttpBindings } from '@hono/node-server';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

// Errors of the control API. Each becomes a JSON body
// `{"error": CODE, "message": TEXT, "requestId": ID, ...details}`, the
// shape of every response Fender makes itself.

export interface ControlEnv {
  Bindings: HttpBindings;
  Variables: {
    requestId: string;
    /** The caller's address, for the log line of every change. */
    remoteAddress: string;
  };
}

export class ControlError extends Error {
  readonly status: ContentfulStatusCode;
  /** Stable machine-readable code: `unauthorized`, `host_not_found`, `invalid_request`... */
  readonly code: string;
  /** Extra fields of the body, such as `host` or `problems`. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    status: ContentfulStatusCode,
    code: string,
    message: string,
    details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ControlError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export function hostNotFound(host: string): ControlError {
  const message = `host ${host} matches no configured host key; GET /breakers lists the configured ones`;

  return new ControlError(404, 'host_not_found', message, { host });
}

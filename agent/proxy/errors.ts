import type { ServerResponse } from 'node:http';

/**
 * The responses Fender makes itself. Each code is stable: the application,
 * logs and dashboards match on it, never on the message.
 */
export const ERROR_STATUS = {
  unknown_host: 403,
  destination_forbidden: 403,
  bad_request: 400,
  method_not_allowed: 405,
  request_timeout: 408,
  request_too_large: 413,
  headers_too_large: 431,
  overloaded: 503,
  circuit_open: 503,
  upstream_connect_failed: 502,
  upstream_reset: 502,
  upstream_invalid_response: 502,
  upstream_timeout: 504,
  deadline_exceeded: 504,
  // Never sent, since the client is gone: logged and counted with the
  // status nginx uses for a request its client abandoned.
  client_closed: 499,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** A failure that ends a request with one of Fender's own responses. */
export class FenderError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Seconds for a `Retry-After` header, when the caller may try again later. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FenderError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

/** Writes `{"error","message","host","requestId"}` with `x-fender-error`, unless headers already went out. */
export function sendError(
  res: ServerResponse,
  error: FenderError,
  host: string,
  requestId: string,
  attempts?: number,
): void {
  if (res.headersSent || res.destroyed) return;

  const body = JSON.stringify({ error: error.code, message: error.message, host, requestId });
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-fender-error': error.code,
    'x-request-id': requestId,
  };
  if (attempts !== undefined) headers['x-fender-attempts'] = attempts;
  if (error.retryAfterSeconds !== undefined) headers['retry-after'] = error.retryAfterSeconds;
  res.writeHead(error.status, headers);
  res.end(body);
}

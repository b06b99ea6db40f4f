import type { Context } from 'hono';
import type { Logger } from 'pino';
import type { ControlEnv } from '../errors.ts';

/**
 * Logs a change made through the control API at warn, with the caller's
 * address and the request id, so the log records who changed what and when.
 */
export function logChange(
  c: Context<ControlEnv>,
  logger: Logger,
  fields: Record<string, unknown>,
  message: string,
): void {
  logger.warn(
    { requestId: c.get('requestId'), remoteAddress: c.get('remoteAddress'), ...fields },
    message,
  );
}

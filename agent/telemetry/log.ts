import pino, { type DestinationStream, type Logger } from 'pino';
import type { Telemetry } from './events.ts';
import { silentTelemetry } from './events.ts';

/** Headers redacted in every log line, whatever the config adds. */
const ALWAYS_REDACTED = ['authorization', 'cookie', 'set-cookie', 'proxy-authorization'];

export interface LoggerOptions {
  readonly level: string;
  /** Extra lower-case header names to redact (`log.redactHeaders`). */
  readonly redactHeaders?: readonly string[];
  /** Defaults to an asynchronous writer on stdout. */
  readonly destination?: DestinationStream;
}

/**
 * Creates the agent's pino logger. Header values are redacted wherever a
 * line carries a `headers` object, at the top level or one object down.
 */
export function createLogger(options: LoggerOptions): Logger {
  const names = [...new Set([...ALWAYS_REDACTED, ...(options.redactHeaders ?? [])])];
  const paths = names.flatMap((name) => [`headers["${name}"]`, `*.headers["${name}"]`]);
  const destination = options.destination ?? pino.destination({ dest: 1, sync: false });

  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths, censor: '[redacted]' },
    },
    destination,
  );
}

/** The log side of the telemetry: one line per request, breaker transitions at warn, reloads. */
export function logTelemetry(logger: Logger): Telemetry {
  return {
    ...silentTelemetry,
    request(record) {
      logger.info(
        {
          requestId: record.requestId,
          host: record.host,
          hostKey: record.hostKey,
          method: record.method,
          path: record.path,
          status: record.status,
          attempts: record.attempts,
          durationMs: record.durationMs,
          cache: record.cache,
          breaker: record.breaker,
          error: record.error,
          detail: record.detail,
          aborted: record.aborted,
        },
        'request',
      );
    },
    breakerTransition(event) {
      logger.warn(
        {
          host: event.host,
          hostKey: event.hostKey,
          from: event.from,
          to: event.to,
          reason: event.reason,
          failures: event.failures,
          shadow: event.shadow,
        },
        event.shadow ? 'breaker transition (shadow mode, nothing rejected)' : 'breaker transition',
      );
    },
    configReload(event) {
      if (event.result === 'success') {
        logger.info(
          { hash: event.hash, previousHash: event.previousHash, trigger: event.trigger },
          'config reloaded',
        );
      } else {
        logger.error(
          { problems: event.problems, trigger: event.trigger },
          'config reload rejected; the previous config stays',
        );
      }
    },
  };
}

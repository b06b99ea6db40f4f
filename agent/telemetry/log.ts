import pino, { type DestinationStream, type Logger } from 'pino';
import type { RequestRecord, Telemetry } from './events.ts';
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

/** Buffered log output is written at least this often, in milliseconds. */
const FLUSH_INTERVAL_MS = 1000;

/**
 * Returns the default destination: stdout, written asynchronously in
 * batches of 4 KiB or every second, so that logging a line per request
 * costs no system call per request. Call flushSync() before exiting.
 */
export function stdoutDestination(): pino.DestinationStream & { flushSync(): void; flush(): void } {
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  setInterval(() => destination.flush(), FLUSH_INTERVAL_MS).unref();

  return destination;
}

/**
 * Creates the agent's pino logger. Header values are redacted wherever a
 * line carries a `headers` object, at the top level or one object down.
 */
export function createLogger(options: LoggerOptions): Logger {
  const names = [...new Set([...ALWAYS_REDACTED, ...(options.redactHeaders ?? [])])];
  const paths = names.flatMap((name) => [`headers["${name}"]`, `*.headers["${name}"]`]);

  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths, censor: '[redacted]' },
    },
    options.destination ?? stdoutDestination(),
  );
}

/**
 * Creates the logger for the per-request lines, on the same destination.
 * Those lines carry fixed fields and never a header, so they skip the
 * redaction pass, which otherwise costs more than the rest of the line.
 */
export function createRequestLogger(level: string, destination: pino.DestinationStream): Logger {
  return pino(
    { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    destination,
  );
}

const PID = process.pid;

/** JSON string of `value`, or nothing for a field that is not set. */
function field(name: string, value: string | number | boolean | undefined): string {
  if (value === undefined) return '';

  return typeof value === 'string' ? `,"${name}":${JSON.stringify(value)}` : `,"${name}":${value}`;
}

/**
 * Formats the per-request line in pino's shape (level 30, ISO time, pid,
 * msg "request"). Written by hand because it is the one line on the
 * request path, and pino's generic serialisation of it costs several
 * times as much.
 */
export function formatRequestLine(record: RequestRecord, time = new Date()): string {
  return (
    `{"level":30,"time":"${time.toISOString()}","pid":${PID}` +
    field('requestId', record.requestId) +
    field('host', record.host) +
    field('hostKey', record.hostKey) +
    field('method', record.method) +
    field('path', record.path) +
    `,"status":${record.status},"attempts":${record.attempts},"durationMs":${record.durationMs}` +
    field('cache', record.cache) +
    field('breaker', record.breaker) +
    field('error', record.error) +
    field('detail', record.detail) +
    field('aborted', record.aborted) +
    ',"msg":"request"}\n'
  );
}

/**
 * Returns the log side of the telemetry: one line per request (on `requestLogger`),
 * breaker transitions at warn, reloads.
 */
export function logTelemetry(logger: Logger, requestLogger: Logger = logger): Telemetry {
  const requestStream = (requestLogger as unknown as Record<symbol, DestinationStream>)[
    pino.symbols.streamSym
  ] as DestinationStream;

  return {
    ...silentTelemetry,
    request(record) {
      if (requestLogger.isLevelEnabled('info')) requestStream.write(formatRequestLine(record));
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

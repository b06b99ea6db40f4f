import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from 'pino';

/** Creates a pino logger whose JSON lines are kept in `lines` for assertions. */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });

  return { logger: pino({ level: 'debug' }, stream), lines };
}

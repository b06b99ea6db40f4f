import { describe, expect, it } from 'vitest';
import { formatRequestLine } from '../../agent/telemetry/log.ts';

describe('formatRequestLine', () => {
  it('writes one JSON line in pino shape', () => {
    const line = formatRequestLine(
      {
        requestId: 'r-1',
        hostKey: 'api.test',
        host: 'api.test',
        method: 'GET',
        path: '/a"b\\c\n',
        status: 200,
        attempts: 2,
        durationMs: 12,
        cache: 'MISS',
        breaker: 'closed',
      },
      new Date('2026-12-03T10:00:00.000Z'),
    );

    expect(line.endsWith('}\n')).toBe(true);
    expect(line.split('\n')).toHaveLength(2);
    expect(JSON.parse(line)).toEqual({
      level: 30,
      time: '2026-12-03T10:00:00.000Z',
      pid: process.pid,
      requestId: 'r-1',
      host: 'api.test',
      hostKey: 'api.test',
      method: 'GET',
      path: '/a"b\\c\n',
      status: 200,
      attempts: 2,
      durationMs: 12,
      cache: 'MISS',
      breaker: 'closed',
      msg: 'request',
    });
  });

  it('includes error, detail and aborted only when set', () => {
    const base = {
      requestId: 'r',
      hostKey: 'h',
      host: 'h',
      method: 'GET',
      path: '/',
      status: 504,
      attempts: 1,
      durationMs: 1,
    };

    const plain = JSON.parse(formatRequestLine(base)) as Record<string, unknown>;
    const failed = JSON.parse(
      formatRequestLine({
        ...base,
        error: 'upstream_timeout',
        detail: 'no response headers',
        aborted: true,
      }),
    ) as Record<string, unknown>;

    expect('error' in plain).toBe(false);
    expect('aborted' in plain).toBe(false);
    expect(failed['error']).toBe('upstream_timeout');
    expect(failed['detail']).toBe('no response headers');
    expect(failed['aborted']).toBe(true);
  });
});

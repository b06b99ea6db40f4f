import { describe, expect, it } from 'vitest';

import { formatDuration, parseDuration, parseSize } from '../../agent/config/units.ts';

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['5s', 5000],
    ['1.5s', 1500],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['7d', 604_800_000],
    ['1.1s', 1100],
    ['0s', 0],
    [0, 0],
    ['0', 0],
  ])('parses %j as %d ms', (input, expected) => {
    expect(parseDuration(input)).toBe(expected);
  });

  it.each([5, '5', '5 s', '-1s', '1y', '1S', '', 's', '1.5.0s', null, true, '0.5ms'])(
    'rejects %j',
    (input) => {
      expect(() => parseDuration(input)).toThrow(RangeError);
    },
  );

  it('names the value and the expected form', () => {
    expect(() => parseDuration(5)).toThrow(
      'expected a duration with a unit (250ms, 5s, 1m, 1h, 7d), got 5',
    );
  });

  it('rejects fractions of a millisecond', () => {
    expect(() => parseDuration('0.5ms')).toThrow(
      'got "0.5ms" (not a whole number of milliseconds)',
    );
  });
});

describe('parseSize', () => {
  it.each([
    [1048576, 1048576],
    [0, 0],
    ['512B', 512],
    ['10KiB', 10_240],
    ['1MiB', 1_048_576],
    ['64MiB', 67_108_864],
    ['1GiB', 1_073_741_824],
    ['1.5KiB', 1536],
    ['10kB', 10_000],
    ['10MB', 10_000_000],
    ['2GB', 2_000_000_000],
  ])('parses %j as %d bytes', (input, expected) => {
    expect(parseSize(input)).toBe(expected);
  });

  it.each(['10', '10 MiB', '1mib', '64Mi', '-1B', 1.5, -1, '0.1B', null])('rejects %j', (input) => {
    expect(() => parseSize(input)).toThrow(RangeError);
  });

  it('names the value and the expected form', () => {
    expect(() => parseSize('64Mi')).toThrow(
      'expected a size: a whole number of bytes or a number with a unit (512B, 10KiB, 64MiB, 1GiB, 10MB), got "64Mi"',
    );
  });

  it('explains why KB is not accepted', () => {
    expect(() => parseSize('1KB')).toThrow('(write KiB for 1024 bytes or kB for 1000)');
  });
});

describe('formatDuration', () => {
  it.each([
    [90_000, '90s'],
    [300_000, '5m'],
    [24 * 86_400_000, '24d'],
    [1500, '1500ms'],
  ])('formats %d ms as %s', (ms, expected) => {
    expect(formatDuration(ms)).toBe(expected);
  });
});

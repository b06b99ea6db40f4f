// Durations and sizes as the config file writes them. They are parsed by hand
// because the common packages accept forms this file rejects: `ms` reads a bare
// number as milliseconds, but here a duration always carries a unit.

export const DURATION_FORM = 'a duration with a unit (250ms, 5s, 1m, 1h, 7d)';
export const SIZE_FORM =
  'a size: a whole number of bytes or a number with a unit (512B, 10KiB, 64MiB, 1GiB, 10MB)';

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

// kB/MB/GB/TB are decimal (SI), KiB/MiB/GiB/TiB binary (IEC). `KB` is left out
// on purpose: it means 1000 to some readers and 1024 to others.
const SIZE_UNITS_BYTES: Readonly<Record<string, number>> = {
  B: 1,
  kB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
  TB: 1000 ** 4,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4,
};

const DURATION_PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const SIZE_PATTERN = /^(\d+(?:\.\d+)?)([A-Za-z]+)$/;

/**
 * Parses a duration such as `250ms`, `1.5s`, `1m`, `1h` or `7d` into milliseconds.
 * Only zero (`0` or `"0"`) may omit the unit. Throws a RangeError naming the value
 * when it is not of that form or is not a whole number of milliseconds.
 */
export function parseDuration(value: unknown): number {
  if (value === 0 || value === '0') return 0;

  const match = typeof value === 'string' ? DURATION_PATTERN.exec(value) : null;
  const unit = match?.[2] === undefined ? undefined : DURATION_UNITS_MS[match[2]];
  if (match === null || unit === undefined) {
    throw new RangeError(`expected ${DURATION_FORM}, got ${JSON.stringify(value)}`);
  }

  return wholeAmount(Number(match[1]) * unit, value, DURATION_FORM, 'milliseconds');
}

/**
 * Parses a size into bytes: a whole number of bytes (`1048576`) or a string with
 * a unit (`512B`, `10KiB`, `64MiB`, `1GiB`, `10MB`). Throws a RangeError naming
 * the value when it is not of that form or is not a whole number of bytes.
 */
export function parseSize(value: unknown): number {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return value;
    throw new RangeError(`expected ${SIZE_FORM}, got ${JSON.stringify(value)}`);
  }

  const match = typeof value === 'string' ? SIZE_PATTERN.exec(value) : null;
  const unit = match?.[2] === undefined ? undefined : SIZE_UNITS_BYTES[match[2]];
  if (match === null || unit === undefined) {
    const hint = match?.[2] === 'KB' ? ' (write KiB for 1024 bytes or kB for 1000)' : '';
    throw new RangeError(`expected ${SIZE_FORM}, got ${JSON.stringify(value)}${hint}`);
  }

  return wholeAmount(Number(match[1]) * unit, value, SIZE_FORM, 'bytes');
}

/** Formats milliseconds in the largest unit that keeps the number whole (`90s`, `5m`). */
export function formatDuration(ms: number): string {
  const units = Object.entries(DURATION_UNITS_MS).reverse();
  for (const [unit, size] of units) {
    if (ms !== 0 && ms % size === 0) return `${ms / size}${unit}`;
  }

  return `${ms}ms`;
}

function wholeAmount(amount: number, value: unknown, form: string, unitName: string): number {
  // Rounding absorbs binary floating-point error such as 1.1 * 1000 = 1100.0000000000002.
  const rounded = Math.round(amount);
  if (Math.abs(amount - rounded) > 1e-6 || !Number.isSafeInteger(rounded)) {
    const got = JSON.stringify(value);
    throw new RangeError(`expected ${form}, got ${got} (not a whole number of ${unitName})`);
  }

  return rounded;
}

import type { BreakerView } from '../../agent/control-surface.ts';

// Plain-text output of fenderctl for people; --json prints the API's bodies instead.

/** Lays out rows under a header, each column as wide as its widest cell, two spaces apart. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();

  return [header, ...rows].map(line).join('\n') + '\n';
}

/** Formats `iso` relative to `now` (`12s ago`, `in 3m`), or `-` for null. */
export function relativeTime(iso: string | null, now: number): string {
  if (iso === null) return '-';
  const deltaMs = Date.parse(iso) - now;
  const span = shortSpan(Math.abs(deltaMs));

  return deltaMs >= 0 ? `in ${span}` : `${span} ago`;
}

function shortSpan(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${pad(seconds % 60)}s`;
  if (seconds < 86_400)
    return `${Math.floor(seconds / 3600)}h${pad(Math.floor(seconds / 60) % 60)}m`;

  return `${Math.floor(seconds / 86_400)}d${Math.floor(seconds / 3600) % 24}h`;
}

function pad(value: number): string {
  return String(value).padStart(2, '0');
}

const BREAKER_HEADER = [
  'HOST',
  'KEY',
  'STATE',
  'MODE',
  'FAILURES',
  'OPENED',
  'RETRY',
  'OVERRIDE ENDS',
];

export function breakerTable(breakers: readonly BreakerView[], now: number): string {
  if (breakers.length === 0) return 'the agent reports no breakers\n';
  const rows = breakers.map((breaker) => [
    breaker.host,
    breaker.key === breaker.host ? '-' : breaker.key,
    breaker.policyMode === 'shadow' ? `${breaker.state} (shadow)` : breaker.state,
    breaker.mode,
    String(breaker.failures),
    relativeTime(breaker.openedAt, now),
    relativeTime(breaker.retryAt, now),
    breaker.mode === 'auto'
      ? '-'
      : breaker.overrideUntil === null
        ? 'on reset'
        : relativeTime(breaker.overrideUntil, now),
  ]);

  return table(BREAKER_HEADER, rows);
}

import type { RawPolicy } from './defaults.ts';
import type { PolicyOverrides } from './schema.ts';

/**
 * Merges policy overrides onto a complete policy, field by field: a host that
 * sets `retry.retries` keeps the inherited backoff. Lists replace the inherited
 * list whole. Hand-written because the rule is this small and exact.
 */
export function mergePolicy(base: RawPolicy, ...overrides: PolicyOverrides[]): RawPolicy {
  let merged: unknown = base;
  for (const override of overrides) merged = mergeValue(merged, override);

  return merged as RawPolicy;
}

function mergeValue(base: unknown, override: unknown): unknown {
  if (override === undefined) return base;
  if (!isMapping(base) || !isMapping(override)) return override;

  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) merged[key] = mergeValue(base[key], value);

  return merged;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

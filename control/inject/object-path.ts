// Reading and replacing values by path in parsed JSON or YAML, where any
// level may be missing or of the wrong type.

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Returns the value at `path`, or undefined; array elements are addressed by their index as a string. */
export function getIn(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const key of path) {
    if (Array.isArray(current)) current = /^\d+$/.test(key) ? current[Number(key)] : undefined;
    else current = isRecord(current) ? current[key] : undefined;
  }

  return current;
}

/** Returns a copy of `root` with the value at `path` replaced; only the objects along the path are copied. */
export function setIn(
  root: Record<string, unknown>,
  path: readonly string[],
  value: unknown,
): Record<string, unknown> {
  const [key, ...rest] = path;
  if (key === undefined) return value as Record<string, unknown>;

  const child = isRecord(root[key]) ? root[key] : {};

  return { ...root, [key]: rest.length === 0 ? value : setIn(child, rest, value) };
}

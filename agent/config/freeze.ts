/**
 * Freezes a value and everything it reaches. Object.freeze leaves a Map or
 * Set writable through its methods, so those methods are replaced on the
 * instance by ones that throw.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;

  if (value instanceof Map) {
    for (const [key, inner] of value) {
      deepFreeze(key);
      deepFreeze(inner);
    }
    lockMethods(value, ['set', 'delete', 'clear']);
  } else if (value instanceof Set) {
    for (const inner of value) deepFreeze(inner);
    lockMethods(value, ['add', 'delete', 'clear']);
  } else {
    for (const inner of Object.values(value)) deepFreeze(inner);
  }

  return Object.freeze(value);
}

function lockMethods(target: object, names: readonly string[]): void {
  for (const name of names) {
    Object.defineProperty(target, name, {
      value: () => {
        throw new TypeError(
          `cannot ${name} on a frozen config snapshot; reload the config instead`,
        );
      },
    });
  }
}

// RFC 6902 `add` as the API server applies it, for checking the injector's
// patches against the objects `fenderctl inject` prints. Only `add` is
// needed: it is the one operation the injector emits.

interface Operation {
  op: string;
  path: string;
  value?: unknown;
}

function unescape(token: string): string {
  return token.replaceAll('~1', '/').replaceAll('~0', '~');
}

/** Applies a JSON Patch to a deep copy of `document`; throws as the API server would on a path that does not resolve. */
export function applyPatch(document: unknown, operations: readonly Operation[]): unknown {
  const root = structuredClone(document);
  for (const operation of operations) {
    if (operation.op !== 'add') throw new Error(`unexpected operation ${operation.op}`);
    if (!operation.path.startsWith('/')) throw new Error(`invalid pointer ${operation.path}`);

    const tokens = operation.path.slice(1).split('/').map(unescape);
    const last = tokens.pop();
    if (last === undefined) throw new Error('cannot add at the root');
    let parent: unknown = root;
    for (const token of tokens) {
      const next: unknown = Array.isArray(parent)
        ? parent[Number(token)]
        : (parent as Record<string, unknown> | undefined)?.[token];
      if (typeof next !== 'object' || next === null)
        throw new Error(`path ${operation.path} does not exist`);
      parent = next;
    }
    if (Array.isArray(parent)) {
      const index = last === '-' ? parent.length : Number(last);
      if (!Number.isInteger(index) || index > parent.length)
        throw new Error(`bad index in ${operation.path}`);
      parent.splice(index, 0, operation.value);
    } else {
      (parent as Record<string, unknown>)[last] = operation.value;
    }
  }

  return root;
}

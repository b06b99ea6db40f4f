import { isDeepStrictEqual } from 'node:util';
import { getIn } from './object-path.ts';

// The fields an injection changed, as the admission webhook's JSON Patch
// (RFC 6902) and as the edits `fenderctl inject` writes into a manifest, so
// both always make the same change. Each is one `add` with the field's whole
// new value: `add` replaces a member that exists and creates one that does
// not. Hand-written because no JSON Patch package is among the production
// dependencies, and these few `add` operations need none.

export interface AddOperation {
  readonly op: 'add';
  readonly path: string;
  readonly value: unknown;
}

/** One field whose value the injection changed, as a path from the object's root. */
export interface ChangedField {
  readonly path: readonly string[];
  readonly value: unknown;
}

function isPresent(value: unknown): boolean {
  return value !== undefined && value !== null;
}

/**
 * Lists the fields the injection may change, relative to the pod template.
 * Each application container's `env` is its own field, so a patch or a
 * printed manifest leaves the rest of every container as it was.
 */
function candidateFields(before: unknown, after: unknown, base: readonly string[]): string[][] {
  const fields = isPresent(getIn(before, [...base, 'metadata']))
    ? [
        ['metadata', 'labels'],
        ['metadata', 'annotations'],
      ]
    : [['metadata']];
  fields.push(['spec', 'initContainers']);

  const oldContainers = getIn(before, [...base, 'spec', 'containers']);
  const newContainers = getIn(after, [...base, 'spec', 'containers']);
  if (
    Array.isArray(oldContainers) &&
    Array.isArray(newContainers) &&
    oldContainers.length === newContainers.length
  ) {
    for (let index = 0; index < newContainers.length; index++) {
      fields.push(['spec', 'containers', String(index), 'env']);
    }
  } else {
    fields.push(['spec', 'containers']);
  }
  fields.push(['spec', 'volumes']);

  return fields;
}

/** Lists the fields of the pod template at `base` whose value differs between `before` and `after`. */
export function changedFields(
  before: unknown,
  after: unknown,
  base: readonly string[],
): ChangedField[] {
  const changes: ChangedField[] = [];
  for (const field of candidateFields(before, after, base)) {
    const path = [...base, ...field];
    const newValue = getIn(after, path);
    if (newValue === undefined || isDeepStrictEqual(getIn(before, path), newValue)) continue;

    changes.push({ path, value: newValue });
  }

  return changes;
}

function pointer(path: readonly string[]): string {
  return path.map((key) => '/' + key.replaceAll('~', '~0').replaceAll('/', '~1')).join('');
}

/** Returns the JSON Patch that turns the template at `base` in `before` into `after`'s. */
export function templatePatch(
  before: unknown,
  after: unknown,
  base: readonly string[],
): AddOperation[] {
  return changedFields(before, after, base).map(({ path, value }) => ({
    op: 'add',
    path: pointer(path),
    value,
  }));
}

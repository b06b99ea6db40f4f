import { parseAllDocuments } from 'yaml';
import type { Document } from 'yaml';
import type { InjectOptions } from './mutate.ts';
import { changedFields } from './patch.ts';
import { isRecord } from './object-path.ts';
import { injectWorkload } from './workloads.ts';
import type { WorkloadResult } from './workloads.ts';

// `fenderctl inject` on a YAML stream: every document of an injectable kind
// gets the sidecar, everything else is printed as it came. Changes are
// written into the parsed document, so comments and formatting outside the
// replaced fields survive.

// YAML 1.1, as kubectl reads manifests: `yes` and `on` are booleans there,
// and strings like them are quoted on output so kubectl reads them back as strings.
const YAML_OPTIONS = { version: '1.1' } as const;

export interface DocumentReport {
  /** `deployment/web`, or `document 3` for one without kind or name. */
  readonly object: string;
  readonly status: WorkloadResult['status'];
  readonly reason?: string;
}

export type ManifestResult =
  | { readonly ok: true; readonly output: string; readonly reports: readonly DocumentReport[] }
  | { readonly ok: false; readonly errors: readonly string[] };

/** Names an object as kubectl does (`deployment/web`), or by its position when it has no kind. */
function describeObject(object: unknown, position: string): string {
  if (!isRecord(object)) return position;

  const kind = typeof object['kind'] === 'string' ? object['kind'].toLowerCase() : undefined;
  const metadata = isRecord(object['metadata']) ? object['metadata'] : {};
  const name = typeof metadata['name'] === 'string' ? metadata['name'] : metadata['generateName'];
  if (kind === undefined) return position;

  return typeof name === 'string' ? `${kind}/${name}` : `${kind} (${position})`;
}

/** Injects one object and writes its changed fields into `doc` under `prefix`. */
function injectInto(
  doc: Document,
  prefix: readonly (string | number)[],
  object: unknown,
  position: string,
  options: InjectOptions,
): DocumentReport {
  const result = injectWorkload(object, options);
  const described = describeObject(object, position);
  if (result.status !== 'injected') {
    return { object: described, status: result.status, reason: result.reason };
  }

  for (const change of changedFields(object, result.object, result.path)) {
    doc.setIn([...prefix, ...change.path], doc.createNode(change.value));
  }

  return { object: described, status: 'injected' };
}

function injectDocument(doc: Document, position: string, options: InjectOptions): DocumentReport[] {
  const value: unknown = doc.toJS();
  const items = isRecord(value) ? value['items'] : undefined;
  const isList =
    isRecord(value) && typeof value['kind'] === 'string' && value['kind'].endsWith('List');
  if (!isList || !Array.isArray(items)) return [injectInto(doc, [], value, position, options)];

  // `kubectl get -o yaml` wraps several objects in a List.
  return items.map((item, index) =>
    injectInto(doc, ['items', index], item, `${position}, item ${index + 1}`, options),
  );
}

/** Parses a multi-document YAML stream, injects every workload in it and returns the new stream. */
export function injectManifests(
  source: string,
  sourceName: string,
  options: InjectOptions,
): ManifestResult {
  const docs = parseAllDocuments(source, YAML_OPTIONS);
  const errors = docs.flatMap((doc) =>
    doc.errors.map((error) => `${sourceName}: ${error.message}`),
  );
  if (errors.length > 0) return { ok: false, errors };

  const reports: DocumentReport[] = [];
  const printed: string[] = [];
  docs.forEach((doc, index) => {
    // An empty document (a stray `---`, or only comments) has nothing to inject or print.
    if (doc.toJS() === null) return;

    reports.push(...injectDocument(doc, `document ${index + 1}`, options));
    // A document that began with `---` prints it again, after any comment above it.
    const text = doc.toString({ lineWidth: 0 });
    const started = doc.directives?.docStart === true ? text : `---\n${text}`;
    printed.push(started.endsWith('\n') ? started : `${started}\n`);
  });

  return { ok: true, output: printed.join(''), reports };
}

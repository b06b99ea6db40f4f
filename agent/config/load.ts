// Entry points of config loading: the file's text in, a Snapshot or every
// problem out.
import { readFile } from 'node:fs/promises';

import { checkSections } from './checks.ts';
import { readDocument } from './document.ts';
import { checkFiles } from './files.ts';
import { sha256 } from './policy.ts';
import { FILE_PATH, genericMessage, issuesToProblems, type ConfigProblem } from './problems.ts';
import { configSchema } from './schema.ts';
import { readSections } from './sections.ts';
import { buildSnapshot } from './snapshot.ts';
import type { Snapshot } from './types.ts';

export type ConfigResult =
  | { readonly ok: true; readonly snapshot: Snapshot }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

/**
 * Validates config text and builds its Snapshot. `source` is the file's path:
 * it is recorded in the Snapshot, and relative paths in the file are resolved
 * against its directory. It reads no file except the secret files the config
 * names, to check that they exist and are not too short.
 */
export function parseConfig(text: string, source: string): ConfigResult {
  const document = readDocument(text);
  if (!document.ok) return document;

  const parsed = configSchema.safeParse(document.data, { error: genericMessage });
  const sections = readSections(document.data);
  const problems = [
    ...(parsed.success ? [] : issuesToProblems(parsed.error.issues)),
    ...checkSections(sections),
    ...checkFiles(sections, source),
  ];
  if (!parsed.success || problems.length > 0) return { ok: false, problems };

  return { ok: true, snapshot: buildSnapshot(parsed.data, sha256(text), source) };
}

/** Reads and validates a config file; an unreadable file is a problem like any other. */
export async function loadConfigFile(path: string): Promise<ConfigResult> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    return unreadable(path, (error as NodeJS.ErrnoException).code);
  }

  // Strict decoding keeps the hash honest: the text hashed is the file's exact bytes.
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return fail(`${path} is not valid UTF-8; save the file as UTF-8`);
  }

  return parseConfig(text, path);
}

function unreadable(path: string, code: string | undefined): ConfigResult {
  const fix = 'pass the right file with --config PATH (or $FENDER_CONFIG)';
  switch (code) {
    case 'ENOENT':
      return fail(`cannot read ${path}: no such file; ${fix}`);
    case 'EACCES':
      return fail(
        `cannot read ${path}: permission denied; make it readable by the user Fender runs as`,
      );
    case 'EISDIR':
      return fail(`cannot read ${path}: it is a directory; ${fix}`);
    default:
      return fail(`cannot read ${path} (${code ?? 'unknown error'}); ${fix}`);
  }
}

function fail(message: string): ConfigResult {
  return { ok: false, problems: [{ path: FILE_PATH, message }] };
}

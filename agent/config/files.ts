// Checks on the secret files the config names. Only their presence and size
// are checked here; their contents are read by the parts that use them, and
// nothing read here is kept.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

import { problemAt, type ConfigProblem, type PathSegment } from './problems.ts';
import type { Sections } from './sections.ts';

/** Minimum size of cache.privateKeyFile: the AES-256 key is derived from it. */
export const MIN_PRIVATE_KEY_BYTES = 32;

interface FileReference {
  readonly at: readonly PathSegment[];
  readonly path: string;
  /** Bytes the file must hold at least; 1 means "not empty". */
  readonly minBytes: number;
  readonly holds: string;
}

/** Resolves a path from the file against the config file's directory. */
export function resolveConfigPath(path: string, source: string): string {
  return resolve(dirname(source), path);
}

export function checkFiles(sections: Sections, source: string): ConfigProblem[] {
  return fileReferences(sections).flatMap((reference) => {
    const message = fileProblem(resolveConfigPath(reference.path, source), reference);

    return message === undefined ? [] : [problemAt(reference.at, message)];
  });
}

function fileReferences(sections: Sections): FileReference[] {
  const references: FileReference[] = [];
  const tokenFile = sections.listeners.control?.tokenFile;
  if (tokenFile !== undefined) {
    const at = ['listeners', 'control', 'tokenFile'];
    references.push({ at, path: tokenFile, minBytes: 1, holds: 'the control API bearer token' });
  }

  const keyFile = sections.cache?.privateKeyFile;
  if (keyFile !== undefined) {
    const holds =
      `at least ${MIN_PRIVATE_KEY_BYTES} bytes of secret material ` +
      `(openssl rand -out FILE ${MIN_PRIVATE_KEY_BYTES})`;
    const at = ['cache', 'privateKeyFile'];
    references.push({ at, path: keyFile, minBytes: MIN_PRIVATE_KEY_BYTES, holds });
  }

  for (const { name, source } of sections.webhookSources) {
    if (source === undefined) continue;

    const at = ['webhooks', 'sources', name, 'verify'];
    const holds = 'the webhook signing secret';
    const { secretFile, secretFiles } = source.verify;
    if (secretFile !== undefined) {
      references.push({ at: [...at, 'secretFile'], path: secretFile, minBytes: 1, holds });
    }
    secretFiles?.forEach((path, index) => {
      references.push({ at: [...at, 'secretFiles', index], path, minBytes: 1, holds });
    });
  }

  return references;
}

function fileProblem(path: string, reference: FileReference): string | undefined {
  let content: Buffer;
  try {
    content = readFileSync(path);
  } catch (error) {
    return readFailure(path, (error as NodeJS.ErrnoException).code);
  }

  // Surrounding whitespace (a trailing newline from `echo`) is not secret material.
  const size = reference.minBytes === 1 ? content.toString('utf8').trim().length : content.length;
  if (size >= reference.minBytes) return undefined;

  const found = size === 0 ? 'is empty' : `holds ${size} bytes`;

  return `${path} ${found}; expected ${reference.holds}`;
}

function readFailure(path: string, code: string | undefined): string {
  switch (code) {
    case 'ENOENT':
      return `${path} does not exist; mount the secret there or correct the path`;
    case 'EACCES':
      return `cannot read ${path}: permission denied; make it readable by the user Fender runs as`;
    case 'EISDIR':
      return `${path} is a directory; expected a file`;
    default:
      return `cannot read ${path} (${code ?? 'unknown error'}); check the path and its permissions`;
  }
}

import { LineCounter, parseDocument, type YAMLError } from 'yaml';

import { FILE_PATH, describeValue, type ConfigProblem } from './problems.ts';
import { isMapping } from './sections.ts';

const TOP_LEVEL = 'a mapping of config keys (listeners, defaults, hosts, …)';

export type DocumentResult =
  | { readonly ok: true; readonly data: Record<string, unknown> }
  | { readonly ok: false; readonly problems: ConfigProblem[] };

/**
 * Parses YAML (or JSON, which YAML 1.2 contains) into plain data. Every syntax
 * error and warning becomes a problem with its line and column. A file that is
 * empty or not a mapping is a problem too.
 */
export function readDocument(text: string): DocumentResult {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const errors = [...document.errors, ...document.warnings];
  if (errors.length > 0) {
    const problems = errors.map((error) => syntaxProblem(error, lineCounter));

    return { ok: false, problems: [...unquotedWildcards(text), ...problems] };
  }

  let data: unknown;
  try {
    data = document.toJS();
  } catch (error) {
    // yaml throws here when aliases expand past maxAliasCount (a "billion laughs" file).
    return fileProblem(`cannot expand the YAML aliases: ${(error as Error).message}`);
  }

  if (data === null || data === undefined) {
    return fileProblem(`the file is empty; expected ${TOP_LEVEL}`);
  }
  if (!isMapping(data)) {
    return fileProblem(`expected ${TOP_LEVEL}, got ${describeValue(data)}`);
  }

  return { ok: true, data };
}

function syntaxProblem(error: YAMLError, lineCounter: LineCounter): ConfigProblem {
  const { line, col } = lineCounter.linePos(error.pos[0]);
  const firstLine =
    error.code === 'MULTIPLE_DOCS'
      ? 'the file contains more than one YAML document; Fender reads one, so remove the ---'
      : (error.message.split('\n')[0] ?? error.message);

  return { path: FILE_PATH, message: `line ${line}, column ${col}: ${firstLine}` };
}

// An unquoted `*.example.com:` key is the likeliest YAML mistake in this file,
// and the parser's own messages for it (bad indentation, ambiguous alias) do
// not say so.
function unquotedWildcards(text: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  text.split('\n').forEach((line, index) => {
    const match = /^(\s*)\*\.[^\s:'"]*:/.exec(line);
    if (match === null) return;

    const message =
      `line ${index + 1}, column ${(match[1]?.length ?? 0) + 1}: quote the wildcard key ` +
      `("*.example.com"), because YAML reads an unquoted * as an alias`;
    problems.push({ path: FILE_PATH, message });
  });

  return problems;
}

function fileProblem(message: string): DocumentResult {
  return { ok: false, problems: [{ path: FILE_PATH, message }] };
}

import type { z } from 'zod';

import { didYouMean } from './hint.ts';

/** One thing wrong with a config file: where (`hosts."api.example.com".retry`) and what. */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

/** The path of problems that concern the file as a whole (unreadable, empty, YAML syntax). */
export const FILE_PATH = '(file)';

export type PathSegment = string | number;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Formats a key path the way users read it: plain keys joined by dots, other
 * keys quoted (`hosts."api.example.com"`), list indexes in brackets (`rules[0]`).
 */
export function formatPath(segments: readonly PathSegment[]): string {
  if (segments.length === 0) return FILE_PATH;

  let text = '';
  for (const segment of segments) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else {
      const key = IDENTIFIER.test(segment) ? segment : JSON.stringify(segment);
      text += text === '' ? key : `.${key}`;
    }
  }

  return text;
}

/** Formats a problem as one line: `path: message`. */
export function formatProblem(problem: ConfigProblem): string {
  return `${problem.path}: ${problem.message}`;
}

export function problemAt(segments: readonly PathSegment[], message: string): ConfigProblem {
  return { path: formatPath(segments), message };
}

/** Describes a parsed YAML value for a message: strings and numbers as JSON, others by kind. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (value !== null && typeof value === 'object') return 'a mapping';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);

  return JSON.stringify(value);
}

/** Turns zod issues into problems; an invalid record key becomes a problem at that key. */
export function issuesToProblems(issues: readonly z.core.$ZodIssue[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of issues) {
    const path = issue.path.filter((s): s is PathSegment => typeof s !== 'symbol');
    if (issue.code === 'invalid_key') {
      for (const inner of issue.issues) problems.push(problemAt(path, inner.message));
    } else {
      problems.push(problemAt(path, issue.message));
    }
  }

  return problems;
}

/**
 * Words the problems with zod's generic issues (wrong type, value not in an
 * enum). Passed to safeParse; fields with a message of their own keep theirs.
 */
export function genericMessage(issue: z.core.$ZodRawIssue): string | undefined {
  const got = describeValue(issue.input);
  switch (issue.code) {
    case 'invalid_type': {
      const expected = EXPECTED_TYPES[issue.expected] ?? issue.expected;

      return issue.input === undefined
        ? `missing; expected ${expected}`
        : `expected ${expected}, got ${got}`;
    }
    case 'invalid_value': {
      const options = issue.values.map((v) => JSON.stringify(v));
      const hint =
        typeof issue.input === 'string' ? didYouMean(issue.input, issue.values.map(String)) : '';

      return `expected ${joinOr(options)}, got ${got}${hint}`;
    }
    case 'too_small':
      if (issue.origin === 'array') {
        const noun = issue.minimum === 1 ? 'entry' : 'entries';

        return `expected a list of at least ${issue.minimum} ${noun}, got an empty list`;
      }

      return undefined;
    default:
      return undefined;
  }
}

const EXPECTED_TYPES: Readonly<Record<string, string>> = {
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
};

export function joinOr(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');

  return `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}

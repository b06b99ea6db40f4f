import { z } from 'zod';
import { parseDuration } from '../agent/config/units.ts';
import { ControlError } from './errors.ts';

// Inputs of the control API. Query objects are strict, so a misspelt
// parameter (`?fro=10m`) is an error rather than silently ignored.

const MAX_HOST_LENGTH = 261; // a 253-character name, a colon and a 5-digit port, plus `*.`
const HOST_SYNTAX =
  /^(?:\*\.)?(?:[a-z0-9_-]+\.)*[a-z0-9_-]+(?::\d{1,5})?$|^\[[0-9a-f:.]+\](?::\d{1,5})?$/;

/** A concrete host or a configured key: `api.example.com`, `api.example.com:8443`, `*.example.com`, `[::1]:8080`. */
export const hostSchema = z
  .string()
  .max(MAX_HOST_LENGTH)
  .transform((host) => host.toLowerCase())
  .refine((host) => HOST_SYNTAX.test(host), {
    message:
      'expected a host name with an optional :port, such as api.example.com or *.example.com',
  });

/** `?for=10m`: how long an override lasts, in the config's duration syntax; the value is milliseconds. */
const durationSchema = z.string().transform((text, ctx) => {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message, input: text });

    return z.NEVER;
  }
  if (ms <= 0) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a duration longer than 0, got "${text}"`,
      input: text,
    });

    return z.NEVER;
  }

  return ms;
});

export const noQuery = z.strictObject({});

export const overrideQuery = z.strictObject({ for: durationSchema.optional() });

export const purgeQuery = z.strictObject({
  host: hostSchema.optional(),
  prefix: z
    .string()
    .max(2048)
    .refine((prefix) => prefix.startsWith('/'), {
      message: 'expected a path prefix starting with /, such as /v1/users',
    })
    .optional(),
});

/** Parses `input` or throws a 400 that names each problem with its parameter. */
export function parseInput<S extends z.ZodType>(
  schema: S,
  input: unknown,
  parameter: string,
): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => ({
    path: issue.path.length > 0 ? issue.path.join('.') : parameter,
    message: unrecognizedMessage(issue) ?? issue.message,
  }));
  const message = problems.map((problem) => `${problem.path}: ${problem.message}`).join('; ');

  return fail(message, problems);
}

function fail(message: string, problems: { path: string; message: string }[]): never {
  throw new ControlError(400, 'invalid_request', message, { problems });
}

function unrecognizedMessage(issue: z.core.$ZodIssue): string | undefined {
  if (issue.code !== 'unrecognized_keys') return undefined;

  return `unknown parameter ${issue.keys.map((key) => `"${key}"`).join(', ')}`;
}

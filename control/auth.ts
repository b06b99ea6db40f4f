import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { MiddlewareHandler } from 'hono';
import type { ControlEnv } from './errors.ts';
import { ControlError } from './errors.ts';

// Bearer-token auth for the control API. Written here rather than with
// hono/bearer-auth because Node's timingSafeEqual over SHA-256 digests keeps
// both the comparison time and the token length from leaking, and because
// the 401 must be the API's JSON error.

/**
 * Reads the token once, at start, and returns its digest. Surrounding
 * whitespace (the newline of a Secret written with `echo`) is not part of it.
 */
export function readTokenDigest(tokenFile: string): Buffer {
  let text: string;
  try {
    text = readFileSync(tokenFile, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new Error(
      `cannot read the control token file ${tokenFile} (${code}): mount the Secret there or remove listeners.control.tokenFile`,
      { cause: error },
    );
  }
  const token = text.trim();
  if (token === '') {
    throw new Error(
      `control token file ${tokenFile} is empty: write the token into it or remove listeners.control.tokenFile`,
    );
  }

  return digest(token);
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** Rejects every request whose `Authorization: Bearer` token does not match `expected`. */
export function bearerAuth(expected: Buffer): MiddlewareHandler<ControlEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization');
    const match = header === undefined ? null : BEARER.exec(header);
    if (match?.[1] === undefined) {
      throw new ControlError(
        401,
        'unauthorized',
        'missing bearer token: send Authorization: Bearer TOKEN (fenderctl --token-file FILE)',
      );
    }
    if (!timingSafeEqual(digest(match[1]), expected)) {
      throw new ControlError(
        401,
        'unauthorized',
        'invalid bearer token: use the token in listeners.control.tokenFile',
      );
    }
    await next();
  };
}

import { FenderError } from './errors.ts';

/** The destination of a request, as parsed from the request line and Host. */
export interface Target {
  /** Lower-cased `host` or `host:port`; port 80 is dropped, as it is the default of plain HTTP. */
  readonly authority: string;
  readonly hostname: string;
  readonly port: number;
  /** Path and query, as sent upstream. */
  readonly pathAndQuery: string;
  /** Path without the query, for logs (a query may hold secrets). */
  readonly path: string;
}

// Host names (RFC 1123 labels, plus `_` which real DNS names carry) or a
// bracketed IPv6 literal, then an optional port.
const AUTHORITY =
  /^(?:([a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*)\.?|(\[[0-9a-f:.]+\]))(?::(\d{1,5}))?$/;

function parseAuthority(raw: string): Pick<Target, 'authority' | 'hostname' | 'port'> {
  const lower = raw.toLowerCase();
  const match = AUTHORITY.exec(lower);
  if (match === null) {
    throw new FenderError('bad_request', `invalid host ${JSON.stringify(raw.slice(0, 100))}`);
  }
  const hostname = (match[1] ?? match[2]) as string;
  const port = match[3] === undefined ? 80 : Number(match[3]);
  if (port < 1 || port > 65535) {
    throw new FenderError('bad_request', `invalid port in host ${JSON.stringify(raw)}`);
  }

  return { authority: port === 80 ? hostname : `${hostname}:${port}`, hostname, port };
}

/** Drops a `#fragment`: it names a part of the resource for the client and is never sent. */
function withoutFragment(target: string): string {
  const hash = target.indexOf('#');

  return hash === -1 ? target : target.slice(0, hash);
}

function splitPath(pathAndQuery: string): string {
  const q = pathAndQuery.indexOf('?');

  return q === -1 ? pathAndQuery : pathAndQuery.slice(0, q);
}

/**
 * Parses a request target in absolute form (`http://host/path`, what an
 * application sends through HTTP_PROXY) or origin form (`/path` with Host).
 * Throws FenderError `bad_request` for anything else.
 */
// NOTE: Node keeps the first of several Host headers, so such a request is
// routed by that one; RFC 9112 section 3.2 requires a 400 response.
export function parseTarget(rawUrl: string, hostHeader: string | undefined): Target {
  const url = withoutFragment(rawUrl);
  if (url.charCodeAt(0) === 47 /* '/' */) {
    if (hostHeader === undefined || hostHeader === '') {
      throw new FenderError('bad_request', 'missing Host header for an origin-form request target');
    }

    return { ...parseAuthority(hostHeader), pathAndQuery: url, path: splitPath(url) };
  }
  if (url.length > 7 && url.slice(0, 7).toLowerCase() === 'http://') {
    const slash = url.indexOf('/', 7);
    const query = url.indexOf('?', 7);
    const end =
      slash === -1
        ? query === -1
          ? url.length
          : query
        : query === -1
          ? slash
          : Math.min(slash, query);
    const authority = url.slice(7, end);
    if (authority.includes('@')) {
      throw new FenderError('bad_request', 'credentials in the request target are not supported');
    }
    const rest = url.slice(end);
    const pathAndQuery =
      rest === '' ? '/' : rest.charCodeAt(0) === 63 /* '?' */ ? `/${rest}` : rest;

    return { ...parseAuthority(authority), pathAndQuery, path: splitPath(pathAndQuery) };
  }
  if (url.slice(0, 8).toLowerCase() === 'https://') {
    throw new FenderError(
      'bad_request',
      'https:// request targets are not proxied: call http:// and configure an https:// upstream, so Fender originates TLS',
    );
  }

  throw new FenderError(
    'bad_request',
    `invalid request target ${JSON.stringify(url.slice(0, 100))}`,
  );
}

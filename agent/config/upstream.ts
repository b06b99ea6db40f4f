/** Placeholder a wildcard key's upstream may use for the requested host name. */
export const HOST_PLACEHOLDER = '{host}';

/** A validated upstream origin. */
export interface Upstream {
  /** `https://api.example.com`, `http://[::1]:8080` or `https://{host}`; no trailing slash. */
  readonly origin: string;
  /** Host name as the URL parser normalised it; contains `{host}` when templated. */
  readonly hostname: string;
  /** Explicit port, else 80 for http and 443 for https. */
  readonly port: number;
}

export type UpstreamResult =
  | { readonly ok: true; readonly value: Upstream }
  | { readonly ok: false; readonly message: string };

export const ORIGIN_FORM = 'an http:// or https:// origin such as https://api.example.com';

// A single DNS label replaces `{host}` while the URL parser checks the rest.
const PLACEHOLDER_LABEL = 'fender-host-placeholder';

/**
 * Validates an `upstream`: http or https, no user info, no path other than `/`,
 * no query or fragment. `{host}` is accepted only when `wildcard` is true and
 * only as whole labels of the host name (`https://{host}`, `http://{host}.mesh:8080`).
 */
export function parseUpstream(raw: string, wildcard: boolean): UpstreamResult {
  const templated = raw.includes(HOST_PLACEHOLDER);
  if (templated && !wildcard) {
    return fail(
      `${HOST_PLACEHOLDER} is allowed only in the upstream of a wildcard key (*.example.com)`,
    );
  }
  if (templated && raw.split(HOST_PLACEHOLDER).length > 2) {
    return fail(`${HOST_PLACEHOLDER} may appear only once, got ${JSON.stringify(raw)}`);
  }

  const url = URL.parse(raw.replace(HOST_PLACEHOLDER, PLACEHOLDER_LABEL));
  if (url === null) return fail(`expected ${ORIGIN_FORM}, got ${JSON.stringify(raw)}`);

  const shapeProblem = originShapeProblem(url, raw);
  if (shapeProblem !== undefined) {
    return fail(shapeProblem.replace(PLACEHOLDER_LABEL, HOST_PLACEHOLDER));
  }

  const labels = url.hostname.split('.');
  if (templated && !labels.includes(PLACEHOLDER_LABEL)) {
    return fail(`${HOST_PLACEHOLDER} may stand only for the host name, got ${JSON.stringify(raw)}`);
  }

  const port = effectivePort(url);
  if (port === 0) return fail(`port 0 cannot be connected to, got ${JSON.stringify(raw)}`);

  const origin = url.origin.replace(PLACEHOLDER_LABEL, HOST_PLACEHOLDER);
  const hostname = url.hostname.replace(PLACEHOLDER_LABEL, HOST_PLACEHOLDER);

  return { ok: true, value: { origin, hostname, port } };
}

/** Returns the URL's port, or the scheme's default (443 for https, else 80). */
export function effectivePort(url: URL): number {
  if (url.port !== '') return Number(url.port);

  return url.protocol === 'https:' ? 443 : 80;
}

function originShapeProblem(url: URL, raw: string): string | undefined {
  const got = JSON.stringify(raw);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `expected ${ORIGIN_FORM}, got ${got}`;
  }
  if (url.username !== '' || url.password !== '') {
    return 'credentials in the upstream URL are not allowed; send them in request headers';
  }
  if (url.pathname !== '/' || raw.includes('?') || raw.includes('#')) {
    const origin = `${url.protocol}//${url.host}`;

    return `expected an origin without path, query or fragment (${origin}), got ${got}`;
  }
  if (/[{}]/.test(raw.replace(HOST_PLACEHOLDER, ''))) {
    return `the only placeholder is ${HOST_PLACEHOLDER}, got ${got}`;
  }

  return undefined;
}

function fail(message: string): UpstreamResult {
  return { ok: false, message };
}

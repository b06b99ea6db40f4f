// Hop-by-hop headers (RFC 9110 section 7.6.1) describe one connection and
// never cross a proxy: the fixed set, plus every name the Connection header
// lists. Both directions go through the filters below.

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
]);

/** Request headers Fender consumes or sets itself instead of forwarding. */
const REQUEST_OWN = new Set([
  'host',
  'expect',
  'x-fender-timeout',
  'x-request-id',
  'http2-settings',
]);

function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;

  const tokens = new Set<string>();
  for (const part of Array.isArray(value) ? value : [value]) {
    for (const token of part.split(',')) {
      const name = token.trim().toLowerCase();
      if (name !== '') tokens.add(name);
    }
  }

  return tokens;
}

function isHopByHop(lowerName: string): boolean {
  return HOP_BY_HOP.has(lowerName) || lowerName.startsWith('proxy-');
}

/**
 * Filters Node's raw request headers (`[name, value, name, value, ...]`)
 * into the flat list sent upstream, without the hop-by-hop ones and without
 * those Fender sets itself.
 */
export function upstreamRequestHeaders(
  raw: readonly string[],
  connection: string | string[] | undefined,
): string[] {
  const named = connectionTokens(connection);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    if (isHopByHop(lower) || REQUEST_OWN.has(lower) || named?.has(lower)) continue;
    out.push(name, raw[i + 1] as string);
  }

  return out;
}

/**
 * Copies the upstream's response headers for the client, without the
 * hop-by-hop ones. NOTE: a transfer coding other than chunked (`gzip,
 * chunked`) is removed with Transfer-Encoding in either direction, not
 * rejected, so the receiver gets the coded bytes with no header that names the coding.
 */
export function clientResponseHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string | string[]> {
  const named = connectionTokens(headers['connection']);
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || isHopByHop(name) || named?.has(name)) continue;
    out[name] = value;
  }

  return out;
}

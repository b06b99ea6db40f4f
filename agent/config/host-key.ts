import { isIPv4, isIPv6 } from 'node:net';
import { domainToASCII } from 'node:url';

/** A validated `hosts` key. */
export interface HostKey {
  /** Normalised key: lower case, IDNs in punycode, IPv6 compressed and in brackets, no `:80`. */
  readonly key: string;
  /** True for `*.example.com`, which matches one or more labels before `.example.com`. */
  readonly wildcard: boolean;
  /** The name without `*.` and port (`example.com` for `*.example.com`). */
  readonly hostname: string;
  /** The port the application addresses; absent for the default, 80. */
  readonly port?: number;
}

export type HostKeyResult =
  { readonly ok: true; readonly value: HostKey } | { readonly ok: false; readonly message: string };

const KEY_FORMS =
  'expected a host name (api.example.com), optionally with a port (api.example.com:8443), ' +
  'a leading wildcard (*.example.com) or an IPv6 address in brackets ([2001:db8::1])';

const KEY_PATTERN = /^(\*\.)?(\[[^\]]*\]|[^:[\]]*)(?::(\d{1,5}))?$/;
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** Validates and normalises one `hosts` key. */
export function parseHostKey(raw: string): HostKeyResult {
  const match = KEY_PATTERN.exec(raw);
  if (match === null) return invalid(raw, KEY_FORMS);

  const wildcard = match[1] !== undefined;
  const port = match[3] === undefined ? undefined : Number(match[3]);
  if (port !== undefined && (port < 1 || port > 65535)) {
    return invalid(raw, `port ${port} is outside 1-65535`);
  }

  const hostname = normaliseHostname(match[2] ?? '', wildcard);
  if (!hostname.ok) return invalid(raw, hostname.message);

  // The application speaks plain HTTP to Fender, so port 80 is the default
  // and the router looks up names without it.
  const keyPort = port === undefined || port === 80 ? undefined : port;
  const prefix = wildcard ? '*.' : '';
  const key = `${prefix}${hostname.value}${keyPort === undefined ? '' : `:${keyPort}`}`;
  const value = { key, wildcard, hostname: hostname.value, ...(keyPort && { port: keyPort }) };

  return { ok: true, value };
}

type NameResult = { ok: true; value: string } | { ok: false; message: string };

function normaliseHostname(name: string, wildcard: boolean): NameResult {
  if (name.startsWith('[')) {
    const address = name.slice(1, -1);
    if (!isIPv6(address)) return { ok: false, message: `${name} is not an IPv6 address` };
    if (wildcard) return { ok: false, message: 'a wildcard cannot precede an IP address' };

    // The WHATWG URL parser prints IPv6 in its canonical compressed form.
    return { ok: true, value: new URL(`http://${name}/`).hostname };
  }

  if (name.endsWith('.')) return { ok: false, message: 'write the name without the trailing dot' };

  // domainToASCII parses like a URL host and would cut `a.com/v1` to `a.com`, so
  // the characters are checked first. It lower-cases and converts IDNs to punycode.
  if (!/^[\p{L}\p{M}\p{N}._-]+$/u.test(name)) return { ok: false, message: KEY_FORMS };

  // An all-numeric last label is an IPv4 address or nothing: no top-level domain is numeric.
  if (/^\d+$/.test(name.split('.').at(-1) ?? '') && !isIPv4(name)) {
    return { ok: false, message: `${name} is neither a host name nor a dotted IPv4 address` };
  }

  const ascii = domainToASCII(name);
  const labels = ascii.split('.');
  if (ascii === '' || ascii.length > 253 || !labels.every((label) => LABEL.test(label))) {
    return { ok: false, message: KEY_FORMS };
  }
  if (wildcard && isIPv4(ascii)) {
    return { ok: false, message: 'a wildcard cannot precede an IP address' };
  }

  return { ok: true, value: ascii };
}

function invalid(raw: string, reason: string): HostKeyResult {
  return { ok: false, message: `invalid host key ${JSON.stringify(raw)}: ${reason}` };
}

import { lookup as dnsLookup } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { networkInterfaces } from 'node:os';

// Guards on where Fender connects. A passthrough host is any name the
// application sends, so it must never reach loopback, link-local (cloud
// metadata lives at 169.254.169.254 and fd00:ec2::254) or this pod's own
// addresses. No host at all may reach Fender's own listeners, which would
// loop or expose the control API through the proxy.

const LOCAL = new BlockList();
LOCAL.addSubnet('127.0.0.0', 8, 'ipv4');
LOCAL.addSubnet('0.0.0.0', 8, 'ipv4');
LOCAL.addAddress('::1', 'ipv6');
LOCAL.addAddress('::', 'ipv6');

const LINK_LOCAL = new BlockList();
LINK_LOCAL.addSubnet('169.254.0.0', 16, 'ipv4');
LINK_LOCAL.addSubnet('fe80::', 10, 'ipv6');
LINK_LOCAL.addAddress('fd00:ec2::254', 'ipv6');

function ownAddresses(): Set<string> {
  const addresses = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) addresses.add(info.address.toLowerCase());
  }

  return addresses;
}

const MAPPED_HEX = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;

/**
 * Strips the IPv4-mapped IPv6 prefix in both spellings, so `::ffff:127.0.0.1`
 * and `::ffff:7f00:1` (what the URL parser makes of it) are checked as 127.0.0.1.
 */
function unmap(address: string): string {
  const lower = address.toLowerCase().replace(/^\[|\]$/g, '');
  if (lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4) return lower.slice(7);

  const hex = MAPPED_HEX.exec(lower);
  if (hex === null) return lower;
  const high = Number.parseInt(hex[1] as string, 16);
  const low = Number.parseInt(hex[2] as string, 16);

  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

function family(address: string): 'ipv4' | 'ipv6' {
  return isIP(address) === 6 ? 'ipv6' : 'ipv4';
}

/** True for loopback, unspecified and this machine's own interface addresses. */
export function isLocalAddress(address: string): boolean {
  const ip = unmap(address);

  return LOCAL.check(ip, family(ip)) || ownAddresses().has(ip);
}

/** True for addresses a passthrough request may never reach. */
export function isForbiddenPassthroughAddress(address: string): boolean {
  const ip = unmap(address);

  return isLocalAddress(ip) || LINK_LOCAL.check(ip, family(ip));
}

export class DestinationForbiddenError extends Error {
  readonly code = 'FENDER_DESTINATION_FORBIDDEN';

  constructor(message: string) {
    super(message);
    this.name = 'DestinationForbiddenError';
  }
}

/**
 * Returns a `lookup` for net.connect that resolves as usual and then fails
 * with DestinationForbiddenError when any address is refused by `forbidden`.
 * Checking the addresses the socket will really use also covers DNS names
 * that point at loopback.
 */
export function guardedLookup(
  forbidden: (address: string) => boolean,
  why: string,
): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error !== null) {
        callback(error, '', 0);

        return;
      }
      const bad = addresses.find((entry) => forbidden(entry.address));
      if (bad !== undefined) {
        callback(
          new DestinationForbiddenError(`${hostname} resolves to ${bad.address}: ${why}`),
          '',
          0,
        );

        return;
      }
      if (options.all === true)
        (callback as (e: null, a: typeof addresses) => void)(null, addresses);
      else
        callback(
          null,
          (addresses[0] as { address: string }).address,
          (addresses[0] as { family: number }).family,
        );
    });
  };
}

// Checks on Fender's own listeners: that they can all be bound, that the
// control API is not exposed without a token, and that no upstream or
// delivery URL points back at one of them.
import { BlockList, isIP } from 'node:net';

import { problemAt, type ConfigProblem } from './problems.ts';
import type { Sections } from './sections.ts';

/** The listeners that will be bound; the webhooks one only when webhooks are configured. */
export function ownListeners(sections: Sections): OwnListener[] {
  const names = ['egress', 'control', 'metrics', 'webhooks'] as const;
  const bound = names.filter((name) => name !== 'webhooks' || sections.webhooksConfigured);

  return bound.flatMap((name) => {
    const listener = sections.listeners[name];

    return listener === undefined ? [] : [{ name, host: listener.host, port: listener.port }];
  });
}

export function checkListeners(
  sections: Sections,
  listeners: readonly OwnListener[],
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  listeners.forEach((listener, index) => {
    const earlier = listeners.slice(0, index).find((other) => overlaps(other, listener));
    if (earlier !== undefined) {
      const message =
        `port ${listener.port} is already used by listeners.${earlier.name} ` +
        `(${earlier.host}:${earlier.port}); choose another port`;
      problems.push(problemAt(['listeners', listener.name, 'port'], message));
    }
  });

  const control = sections.listeners.control;
  if (control !== undefined && !isLoopbackHost(control.host) && control.tokenFile === undefined) {
    const message =
      `${control.host} exposes the control API beyond loopback without authentication; ` +
      'set listeners.control.tokenFile or bind 127.0.0.1';
    problems.push(problemAt(['listeners', 'control', 'host'], message));
  }

  return problems;
}

// Two listeners collide when they share a port and an address. An unspecified
// address (0.0.0.0, ::) takes the port on every address, and `localhost`
// resolves to a loopback address.
function overlaps(a: OwnListener, b: OwnListener): boolean {
  if (a.port === 0 || a.port !== b.port) return false;

  const unspecified = (host: string) => UNSPECIFIED.has(host);
  const localhost = (host: string, other: string) => host === 'localhost' && isLoopbackHost(other);

  return (
    a.host === b.host ||
    unspecified(a.host) ||
    unspecified(b.host) ||
    localhost(a.host, b.host) ||
    localhost(b.host, a.host)
  );
}

const LOOP_REASONS: Readonly<Record<string, string>> = {
  egress: 'requests would loop back into the proxy',
  control: 'the application could reach the control API through the proxy',
  metrics: 'Fender never forwards to its own listeners',
  webhooks: 'Fender never forwards to its own listeners',
};

/**
 * Returns the problem message for a URL that reaches one of Fender's own
 * listeners, or undefined when `hostname:port` matches no listener.
 */
export function ownListenerProblem(
  origin: string,
  hostname: string,
  port: number,
  listeners: readonly OwnListener[],
  fix: string,
): string | undefined {
  const own = ownListenerAt(hostname, port, listeners);
  if (own === undefined) return undefined;

  const listener = `${own.name} listener (${own.host}:${own.port})`;

  return `${origin} is Fender's own ${listener}: ${LOOP_REASONS[own.name]}; ${fix}`;
}

/** One of Fender's own listeners, named as in the file (`listeners.control`). */
export interface OwnListener {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

const UNSPECIFIED = new Set(['0.0.0.0', '::']);

/** Reports whether `host` is a loopback address or a `localhost` name. */
export function isLoopbackHost(host: string): boolean {
  const bare = unbracket(host);
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;

  // BlockList also matches IPv4-mapped IPv6 (::ffff:127.0.0.1) against the IPv4 subnet.
  const family = isIP(bare);

  return family !== 0 && LOOPBACK.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

/** Reports whether `host` reaches this machine: loopback, `localhost` or an unspecified address. */
export function isLocalHost(host: string): boolean {
  return isLoopbackHost(host) || UNSPECIFIED.has(unbracket(host));
}

function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * Returns the listener that `hostname:port` would reach, if any: same port and
 * either a local address or the listener's own bind address. Listeners on
 * port 0 get a free port at start and cannot be matched here.
 */
export function ownListenerAt(
  hostname: string,
  port: number,
  listeners: readonly OwnListener[],
): OwnListener | undefined {
  const bare = unbracket(hostname);

  return listeners.find(
    (listener) =>
      listener.port !== 0 &&
      listener.port === port &&
      (isLocalHost(bare) || sameAddress(bare, listener.host)),
  );
}

function sameAddress(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

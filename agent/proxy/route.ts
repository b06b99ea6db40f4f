import type { HostPolicy, Snapshot } from '../config/types.ts';

/** A request's host matched to its policy. */
export interface Route {
  readonly policy: HostPolicy;
  /** The concrete host (`a.example.com`): breakers, budgets and pools are kept per concrete host. */
  readonly host: string;
  /** The upstream origin with `{host}` filled in. */
  readonly upstream: string;
  /** False for a passthrough host outside the config. */
  readonly configured: boolean;
}

/**
 * Maps host keys to policies. Exact keys are one map lookup; wildcard keys
 * are tried from the longest suffix to the shortest, so lookup cost depends
 * on the number of labels in the name, not on the number of hosts.
 */
export class Router {
  readonly #exact = new Map<string, HostPolicy>();
  readonly #wildcard = new Map<string, HostPolicy>();
  readonly #snapshot: Snapshot;

  constructor(snapshot: Snapshot) {
    this.#snapshot = snapshot;
    for (const [key, policy] of snapshot.hosts) {
      if (key.startsWith('*.')) this.#wildcard.set(key.slice(1), policy);
      else this.#exact.set(key, policy);
    }
  }

  /** `authority` is lower-case `host` or `host:port` (port 80 omitted). */
  route(authority: string, hostname: string, port: number): Route | undefined {
    const exact = this.#exact.get(authority);
    if (exact !== undefined)
      return { policy: exact, host: authority, upstream: exact.upstream, configured: true };

    const wildcard = this.#matchWildcard(hostname, port);
    if (wildcard !== undefined) {
      return {
        policy: wildcard,
        host: authority,
        upstream: wildcard.upstream.replace('{host}', hostname),
        configured: true,
      };
    }
    if (this.#snapshot.unknownHosts === 'passthrough') {
      return {
        policy: this.#snapshot.defaults,
        host: authority,
        upstream: `http://${authority}`,
        configured: false,
      };
    }

    return undefined;
  }

  /** Finds the most specific wildcard key for `hostname` (one label or more in front). */
  #matchWildcard(hostname: string, port: number): HostPolicy | undefined {
    if (this.#wildcard.size === 0) return undefined;

    const suffixPort = port === 80 ? '' : `:${port}`;
    for (let dot = hostname.indexOf('.'); dot !== -1; dot = hostname.indexOf('.', dot + 1)) {
      const policy = this.#wildcard.get(hostname.slice(dot) + suffixPort);
      if (policy !== undefined) return policy;
    }

    return undefined;
  }
}

import type { Logger } from 'pino';
import { CacheTier } from './cache/tier.ts';
import type { AgentControl, BreakerView, CacheStats, ReloadResult } from './control-surface.ts';
import { loadConfigFile } from './config/load.ts';
import { formatProblem } from './config/problems.ts';
import type { Snapshot } from './config/types.ts';
import { HostStates, type HostState } from './hosts.ts';
import type { ChainContext } from './proxy/chain.ts';
import type { ConfigView } from './proxy/exchange.ts';
import type { EgressAgent } from './proxy/listener.ts';
import { Router } from './proxy/route.ts';
import { Pools } from './proxy/upstream.ts';
import type { Telemetry } from './telemetry/events.ts';

export interface AgentOptions {
  readonly telemetry: Telemetry;
  readonly logger: Logger;
  /** Ports of Fender's own listeners as bound, which no upstream may reach. */
  readonly ownPorts?: Iterable<number>;
  /** Called after a new snapshot replaced the old one (the metrics drop series of removed hosts). */
  readonly onApply?: (snapshot: Snapshot) => void;
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/**
 * The data plane of one Fender process: the current config view, per-host
 * state and upstream pools. The egress listener reads it through
 * EgressAgent, the control side through AgentControl.
 */
export class Agent implements AgentControl, EgressAgent {
  readonly chain: ChainContext;
  readonly #logger: Logger;
  readonly #onApply: (snapshot: Snapshot) => void;
  readonly #hosts: HostStates;
  #view: ConfigView;
  /** The listener settings the process bound at start, which a reload cannot change. */
  readonly #startedListeners: string;
  #inFlight = 0;
  #lastActivity = Date.now();
  #reloading: Promise<ReloadResult> = Promise.resolve({ ok: true, hash: '', changed: false });

  constructor(snapshot: Snapshot, options: AgentOptions) {
    this.#logger = options.logger;
    this.#onApply = options.onApply ?? (() => {});
    this.#hosts = new HostStates(options.telemetry);
    this.#view = { snapshot, router: new Router(snapshot) };
    this.#startedListeners = JSON.stringify(snapshot.listeners);
    this.chain = {
      hosts: this.#hosts,
      pools: new Pools(),
      telemetry: options.telemetry,
      cache: new CacheTier(snapshot, {
        telemetry: options.telemetry,
        logger: options.logger,
      }),
      ownPorts: new Set(options.ownPorts ?? ownPortsOf(snapshot)),
      inFlight: 0,
    };
  }

  config(): ConfigView {
    return this.#view;
  }

  get snapshot(): Snapshot {
    return this.#view.snapshot;
  }

  requestStarted(): void {
    this.#inFlight++;
    this.#lastActivity = Date.now();
  }

  requestFinished(): void {
    this.#inFlight--;
    this.#lastActivity = Date.now();
  }

  /** Requests in flight and the time (ms since epoch) the last one started or ended, for draining. */
  activity(): { inFlight: number; lastActivity: number } {
    return { inFlight: this.#inFlight, lastActivity: this.#lastActivity };
  }

  /** Sets the ports bound by the listeners (they differ from the config when it asked for port 0). */
  setOwnPorts(ports: Iterable<number>): void {
    const own = this.chain.ownPorts as Set<number>;
    own.clear();
    for (const port of ports) own.add(port);
    // Upstreams resolved before the ports were known are resolved again.
    for (const state of this.#hosts.values()) state.upstream = undefined;
  }

  /**
   * Swaps in a validated snapshot. Requests already running keep the view
   * they started with; state of hosts that left the config is dropped, and
   * unused pools drain and close on their own.
   */
  apply(snapshot: Snapshot): void {
    const router = new Router(snapshot);
    this.#view = { snapshot, router };
    this.chain.cache.reconfigure(snapshot);
    this.#hosts.prune((state) => {
      const route = router.route(state.host, ...splitAuthority(state.host));

      return route !== undefined && route.policy.key === state.key;
    });
    this.#onApply(snapshot);
    // Compared with the listeners as started, so every reload of a changed
    // file logs the warning, not only the first.
    if (this.#startedListeners !== JSON.stringify(snapshot.listeners)) {
      this.#logger.warn(
        { running: JSON.parse(this.#startedListeners) as unknown, file: snapshot.listeners },
        'listener settings in the file (addresses, control tokenFile) differ from the running listeners; they take effect only after a restart',
      );
    }
  }

  /** Reloads the config file; reloads run one at a time, in order. */
  reload(trigger: string): Promise<ReloadResult> {
    const next = this.#reloading.then(() => this.#reloadOnce(trigger));
    this.#reloading = next.catch(() => ({ ok: false, problems: [] }) as ReloadResult);

    return next;
  }

  async #reloadOnce(trigger: string): Promise<ReloadResult> {
    const previous = this.#view.snapshot;
    const result = await loadConfigFile(previous.source);
    if (!result.ok) {
      const problems = result.problems.map(formatProblem);
      this.chain.telemetry.configReload({ result: 'failure', problems, trigger });

      return { ok: false, problems };
    }
    const changed = result.snapshot.hash !== previous.hash;
    if (changed) this.apply(result.snapshot);
    this.chain.telemetry.configReload({
      result: 'success',
      hash: result.snapshot.hash,
      previousHash: previous.hash,
      trigger,
    });

    return { ok: true, hash: result.snapshot.hash, changed };
  }

  // === AgentControl ===

  listBreakers(): BreakerView[] {
    const seen = new Set<string>();
    const views: BreakerView[] = [];
    for (const state of this.#hosts.values()) {
      seen.add(state.host);
      views.push(viewOf(state, this.#policyMode(state)));
    }
    for (const [key, policy] of this.#view.snapshot.hosts) {
      if (key.startsWith('*.') || seen.has(key)) continue;
      views.push(viewOf(this.#hosts.get(key, policy), policy.breaker.mode));
    }

    return views.sort((a, b) => a.host.localeCompare(b.host));
  }

  /** Concrete breaker states with their configured keys, for the breaker-state gauge. */
  *breakerStates(): Iterable<{ key: string; state: 'closed' | 'open' | 'half_open' }> {
    for (const view of this.listBreakers()) yield { key: view.key, state: view.state };
  }

  getBreaker(host: string): BreakerView | undefined {
    const state = this.#stateFor(host);

    return state === undefined ? undefined : viewOf(state, this.#policyMode(state));
  }

  overrideBreaker(
    host: string,
    mode: 'forced_open' | 'forced_closed',
    forMs?: number,
  ): BreakerView | undefined {
    const state = this.#stateFor(host);
    if (state === undefined) return undefined;

    state.breaker.force(mode, forMs === undefined ? undefined : Date.now() + forMs);

    return viewOf(state, this.#policyMode(state));
  }

  resetBreaker(host: string): BreakerView | undefined {
    const state = this.#stateFor(host);
    if (state === undefined) return undefined;

    state.breaker.reset();

    return viewOf(state, this.#policyMode(state));
  }

  effectiveConfig(): unknown {
    return this.#view.snapshot.effective;
  }

  configHash(): string {
    return this.#view.snapshot.hash;
  }

  cacheStats(): CacheStats {
    return this.chain.cache.stats();
  }

  purgeCache(filter: { readonly host?: string; readonly prefix?: string }): number {
    return this.chain.cache.purge(filter);
  }

  async close(): Promise<void> {
    await this.chain.pools.close();
  }

  /** The state of a configured host (exact key, or a name a wildcard key matches). */
  #stateFor(host: string): HostState | undefined {
    // The same spellings the egress proxy accepts: a trailing dot, an explicit :80.
    const name = host
      .trim()
      .toLowerCase()
      .replace(/\.(?=$|:)/, '')
      .replace(/:80$/, '');
    const route = this.#view.router.route(name, ...splitAuthority(name));
    if (route === undefined || !route.configured) return undefined;

    return this.#hosts.get(route.host, route.policy);
  }

  #policyMode(state: HostState): 'enforce' | 'shadow' {
    return (
      this.#view.snapshot.hosts.get(state.key)?.breaker.mode ??
      this.#view.snapshot.defaults.breaker.mode
    );
  }
}

function viewOf(state: HostState, policyMode: 'enforce' | 'shadow'): BreakerView {
  const view = state.breaker.view();

  return {
    host: state.host,
    key: state.key,
    state: view.state,
    mode: view.mode,
    policyMode,
    failures: view.failures,
    openedAt: iso(view.openedAt),
    retryAt: iso(view.retryAt),
    overrideUntil: iso(view.overrideUntil),
  };
}

/** Splits `host` or `host:port` (port 80 when absent) for Router.route. */
function splitAuthority(authority: string): [string, number] {
  const colon = authority.lastIndexOf(':');
  if (colon === -1 || authority.endsWith(']')) return [authority, 80];

  return [authority.slice(0, colon), Number(authority.slice(colon + 1))];
}

function ownPortsOf(snapshot: Snapshot): number[] {
  const { egress, control, metrics } = snapshot.listeners;
  const ports = [egress.port, control.port, metrics.port];
  if (snapshot.webhooks !== undefined) ports.push(snapshot.webhooks.listener.port);

  return ports.filter((port) => port !== 0);
}

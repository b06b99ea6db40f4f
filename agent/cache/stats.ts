import { silentTelemetry, type Telemetry } from '../telemetry/events.ts';

/**
 * A telemetry sink that counts cache events for `GET /cache`. Add it to the
 * agent's sinks with fanOut(); it ignores every other event.
 */
export class CacheCounters implements Telemetry {
  hits = 0;
  misses = 0;
  stale = 0;
  bypass = 0;
  evictions = 0;
  invalidations = 0;

  request = silentTelemetry.request;
  attempt = silentTelemetry.attempt;
  retry = silentTelemetry.retry;
  retryBudgetExhausted = silentTelemetry.retryBudgetExhausted;
  breakerTransition = silentTelemetry.breakerTransition;
  configReload = silentTelemetry.configReload;

  cacheLookup(_hostKey: string, result: 'hit' | 'miss' | 'stale' | 'bypass'): void {
    if (result === 'hit') this.hits++;
    else if (result === 'miss') this.misses++;
    else if (result === 'stale') this.stale++;
    else this.bypass++;
  }

  cacheEviction(count: number): void {
    this.evictions += count;
  }

  cacheInvalidation(count: number): void {
    this.invalidations += count;
  }
}

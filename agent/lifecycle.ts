// Draining on SIGTERM. As a plain (non-native) sidecar Fender is signalled
// together with the application, which may still be making calls while it
// shuts down, so the egress listener keeps serving: readiness turns false at
// once, and the process ends only after traffic has stopped for `idleMs`, or
// when `timeoutMs` runs out.

export interface DrainOptions {
  readonly idleMs: number;
  readonly timeoutMs: number;
  readonly activity: () => { inFlight: number; lastActivity: number };
  /** Polling interval in milliseconds. */
  readonly checkMs?: number;
}

/** Resolves with why the drain ended, once it has. */
export function drain(options: DrainOptions): Promise<'idle' | 'timeout'> {
  const started = Date.now();
  const checkMs = options.checkMs ?? 100;

  return new Promise((resolve) => {
    const timer = setInterval(() => {
      const now = Date.now();
      const { inFlight, lastActivity } = options.activity();
      if (inFlight === 0 && now - Math.max(lastActivity, started) >= options.idleMs) {
        clearInterval(timer);
        resolve('idle');
      } else if (now - started >= options.timeoutMs) {
        clearInterval(timer);
        resolve('timeout');
      }
    }, checkMs);
  });
}

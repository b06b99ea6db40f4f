import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { Agent } from './agent.ts';
import type { AgentControl } from './control-surface.ts';
import { runCheck } from './config/check.ts';
import { loadConfigFile } from './config/load.ts';
import { formatProblem } from './config/problems.ts';
import type { Snapshot } from './config/types.ts';
import { isKubeletMount, watchConfig, type ConfigWatch } from './config/watch.ts';
import { drain } from './lifecycle.ts';
import { createEgressServer } from './proxy/listener.ts';
import { fanOut } from './telemetry/events.ts';
import type { BoundListener } from './telemetry/listen.ts';
import {
  createLogger,
  createRequestLogger,
  logTelemetry,
  stdoutDestination,
} from './telemetry/log.ts';
import { createMetrics } from './telemetry/metrics.ts';
import { startMetricsServer } from './telemetry/metrics-server.ts';

export const DEFAULT_CONFIG_PATH = '/etc/fender/fender.yaml';

/** Starts the listeners that live outside the data plane (the control API). */
export type ControlStarter = (
  agent: AgentControl,
  snapshot: Snapshot,
  logger: Logger,
) => Promise<BoundListener>;

export interface StartOptions {
  readonly snapshot: Snapshot;
  readonly logger?: Logger;
  readonly startControl?: ControlStarter;
  /** Follow the config file and reload when it changes (default true). */
  readonly watch?: boolean;
}

/** A started agent: its bound ports and how to stop it. */
export interface RunningAgent {
  readonly agent: Agent;
  readonly logger: Logger;
  readonly ports: { readonly egress: number; readonly metrics: number; readonly control?: number };
  /** Starts draining: /readyz turns 503 at once; resolves when the drain has ended. */
  drain(): Promise<'idle' | 'timeout'>;
  /** Closes every listener and pool now. */
  close(): Promise<void>;
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new Error(
          `cannot listen on ${host}:${port} for the egress listener: ${error.code ?? error.message}`,
        ),
      ),
    );
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

/** Binds the listeners for a validated snapshot; /readyz turns 200 once all are bound. */
export async function startAgent(options: StartOptions): Promise<RunningAgent> {
  const { snapshot } = options;
  let logger = options.logger;
  let requestLogger = options.logger;
  if (logger === undefined) {
    const destination = stdoutDestination();
    logger = createLogger({
      level: snapshot.log.level,
      redactHeaders: snapshot.log.redactHeaders,
      destination,
    });
    requestLogger = createRequestLogger(snapshot.log.level, destination);
  }
  // The metrics read the agent at scrape time, which is only after it exists.
  const metrics = createMetrics({
    breakers: () => running.breakerStates(),
    cache: () => running.cacheStats(),
    configHash: () => running.configHash(),
  });
  const running: Agent = new Agent(snapshot, {
    telemetry: fanOut(logTelemetry(logger, requestLogger), metrics.telemetry),
    logger,
    onApply: (next) => metrics.retainHosts(next.hosts.keys()),
  });

  let ready = false;
  let draining = false;
  const metricsListener = await startMetricsServer({
    host: snapshot.listeners.metrics.host,
    port: snapshot.listeners.metrics.port,
    registry: metrics.registry,
    ready: () =>
      ready ? { ready: true } : { ready: false, reason: draining ? 'draining' : 'starting' },
  });
  const egress = createEgressServer(running);
  const egressPort = await listen(
    egress,
    snapshot.listeners.egress.host,
    snapshot.listeners.egress.port,
  );
  const control =
    options.startControl === undefined
      ? undefined
      : await options.startControl(running, snapshot, logger);
  running.setOwnPorts([
    egressPort,
    metricsListener.port,
    ...(control === undefined ? [] : [control.port]),
  ]);

  let watch: ConfigWatch | undefined;
  if (options.watch !== false) {
    if (!isKubeletMount(snapshot.source)) {
      logger.warn(
        { config: snapshot.source },
        'the config file is not behind a ..data symlink: edits to it still reload, but if it is a subPath mount of a ConfigMap, Kubernetes never updates it; mount the whole ConfigMap directory instead',
      );
    }
    watch = watchConfig(snapshot.source, () => running.reload('watch'), {
      log: logger,
      loadedHash: snapshot.hash,
    });
  }
  ready = true;
  logger.info(
    {
      egress: egressPort,
      metrics: metricsListener.port,
      control: control?.port,
      hosts: snapshot.hosts.size,
      hash: snapshot.hash,
    },
    'fender started',
  );

  const close = async (): Promise<void> => {
    ready = false;
    watch?.close();
    egress.closeAllConnections();
    await Promise.all([
      new Promise<void>((resolve) => egress.close(() => resolve())),
      metricsListener.close(),
      control?.close(),
      running.close(),
    ]);
  };

  return {
    agent: running,
    logger,
    ports: {
      egress: egressPort,
      metrics: metricsListener.port,
      ...(control === undefined ? {} : { control: control.port }),
    },
    drain: () => {
      ready = false;
      draining = true;
      const { drainIdleMs, drainTimeoutMs } = running.snapshot.lifecycle;

      return drain({
        idleMs: drainIdleMs,
        timeoutMs: drainTimeoutMs,
        activity: () => running.activity(),
      });
    },
    close,
  };
}

const USAGE = `usage: fender [--config PATH]
       fender check --config PATH

Runs the Fender sidecar agent. Without --config: $FENDER_CONFIG, else ${DEFAULT_CONFIG_PATH}.
`;

/** Runs the `fender` command (the agent, or `check` on a config) and resolves with the exit code. */
export async function runFender(argv: string[], startControl?: ControlStarter): Promise<number> {
  if (argv[0] === 'check')
    return runCheck(argv.slice(1), { stdout: process.stdout, stderr: process.stderr });

  let values: { config?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (error) {
    process.stderr.write(`fender: ${(error as Error).message}\n${USAGE}`);

    return 2;
  }
  if (values.help === true) {
    process.stdout.write(USAGE);

    return 0;
  }
  const path = values.config ?? process.env['FENDER_CONFIG'] ?? DEFAULT_CONFIG_PATH;
  const loaded = await loadConfigFile(path);
  if (!loaded.ok) {
    process.stderr.write(`fender: invalid config ${path}:\n`);
    for (const problem of loaded.problems) process.stderr.write(`  ${formatProblem(problem)}\n`);

    return 1;
  }

  let running: RunningAgent;
  try {
    running = await startAgent({
      snapshot: loaded.snapshot,
      ...(startControl === undefined ? {} : { startControl }),
    });
  } catch (error) {
    process.stderr.write(`fender: ${(error as Error).message}\n`);

    return 1;
  }

  return new Promise<number>((resolve) => {
    const { logger } = running;
    let stopping = false;
    // Buffered log lines are written out before the exit code is returned.
    const stopNow = (code: number) => {
      logger.flush(() => resolve(code));
    };
    process.on('SIGHUP', () => void running.agent.reload('SIGHUP'));
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        stopNow(signal === 'SIGINT' ? 130 : 143);

        return;
      }
      stopping = true;
      logger.info(
        { signal, ...running.agent.snapshot.lifecycle },
        'draining: readiness is off, egress keeps serving',
      );
      void running.drain().then(async (why) => {
        const { inFlight, lastActivity } = running.agent.activity();
        logger.info(
          { why, inFlight, lastActivity: new Date(lastActivity).toISOString() },
          'drain finished; exiting',
        );
        await running.close();
        stopNow(0);
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

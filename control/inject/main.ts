#!/usr/bin/env node
// The sidecar injector's process: `node control/inject/main.ts [options]`.
// The image's injector Deployment runs it; see docs/kubernetes.md.

import { parseArgs } from 'node:util';
import pino from 'pino';
import { parseDuration } from '../../agent/config/units.ts';
import { DEFAULT_CLUSTER_DOMAIN, DEFAULT_IMAGE } from './names.ts';
import { startInjector } from './server.ts';
import { checkClusterSettings } from './settings.ts';
import type { RunningInjector } from './server.ts';

const USAGE = `usage: node control/inject/main.ts [options]

Runs the Fender sidecar injector, a mutating admission webhook over HTTPS.

options:
  --tls-cert FILE        serving certificate, PEM (default /etc/fender-injector/tls/tls.crt)
  --tls-key FILE         its private key, PEM (default /etc/fender-injector/tls/tls.key)
  --port PORT            HTTPS port (default 8443)
  --host ADDRESS         bind address (default: every address, IPv6 included)
  --image IMAGE          the sidecar image to inject (default ${DEFAULT_IMAGE})
  --cluster-domain NAME  the cluster's DNS domain, kept out of the proxy (default ${DEFAULT_CLUSTER_DOMAIN})
  --shutdown-delay DUR   after SIGTERM, keep serving this long while endpoints drop the pod (default 5s)
  --log-level LEVEL      trace, debug, info, warn or error (default info)
`;

const OPTIONS = {
  'tls-cert': { type: 'string', default: '/etc/fender-injector/tls/tls.crt' },
  'tls-key': { type: 'string', default: '/etc/fender-injector/tls/tls.key' },
  port: { type: 'string', default: '8443' },
  host: { type: 'string' },
  image: { type: 'string', default: DEFAULT_IMAGE },
  'cluster-domain': { type: 'string', default: DEFAULT_CLUSTER_DOMAIN },
  'shutdown-delay': { type: 'string', default: '5s' },
  'log-level': { type: 'string', default: 'info' },
  help: { type: 'boolean', short: 'h' },
} as const;

function usageError(message: string): number {
  process.stderr.write(`fender-injector: ${message}\n${USAGE}`);

  return 2;
}

interface Settings {
  readonly values: ReturnType<
    typeof parseArgs<{ args: string[]; options: typeof OPTIONS }>
  >['values'];
  readonly port: number;
  readonly shutdownDelayMs: number;
}

/** Parses and checks the command line; returns an error message for the first bad option. */
function readSettings(argv: string[]): Settings | string {
  let values: Settings['values'];
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, strict: true }));
  } catch (error) {
    return (error as Error).message;
  }
  const port = Number(values.port);
  if (!/^\d+$/.test(values.port) || port > 65535) {
    return `--port must be a whole number from 0 to 65535, got ${JSON.stringify(values.port)}`;
  }
  let shutdownDelayMs: number;
  try {
    shutdownDelayMs = parseDuration(values['shutdown-delay']);
  } catch (error) {
    return `--shutdown-delay: ${(error as Error).message}`;
  }
  const invalid = checkClusterSettings({
    image: values.image,
    clusterDomain: values['cluster-domain'],
  });
  if (invalid !== undefined) return invalid;
  if (pino.levels.values[values['log-level']] === undefined) {
    return `--log-level must be trace, debug, info, warn or error, got ${JSON.stringify(values['log-level'])}`;
  }

  return { values, port, shutdownDelayMs };
}

async function main(argv: string[]): Promise<number> {
  const settings = readSettings(argv);
  if (typeof settings === 'string') return usageError(settings);

  const { values, port, shutdownDelayMs } = settings;
  if (values.help === true) {
    process.stdout.write(USAGE);

    return 0;
  }
  // Synchronous writes: the injector logs one line per review, so they cost
  // little, and no line is lost when the process exits.
  const logger = pino(
    {
      level: values['log-level'],
      base: { component: 'fender-injector' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ dest: 1, sync: true }),
  );
  let ready = true;
  let injector: RunningInjector;
  try {
    injector = await startInjector({
      ...(values.host === undefined ? {} : { host: values.host }),
      port,
      certFile: values['tls-cert'],
      keyFile: values['tls-key'],
      cluster: { image: values.image, clusterDomain: values['cluster-domain'] },
      logger,
      ready: () => ready,
    });
  } catch (error) {
    logger.fatal({ err: error }, 'injector failed to start');

    return 1;
  }

  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      if (!ready) {
        logger.warn({ signal }, 'second signal: exiting now');
        resolve(1);

        return;
      }
      ready = false;
      logger.info(
        { signal, shutdownDelayMs },
        'shutting down: readiness is off, still serving reviews',
      );
      setTimeout(() => {
        void injector.close().then(() => {
          logger.info('injector stopped');
          resolve(0);
        });
      }, shutdownDelayMs);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

process.exit(await main(process.argv.slice(2)));

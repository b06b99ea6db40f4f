// `npm run demo`: Fender's main job, shown on this machine in under a minute.
// It starts an upstream whose failures it controls and the agent with a demo
// config, then makes retries, a breaker opening and closing, and cache hits
// visible. Exits 0 when every behaviour was seen, 1 otherwise.
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { freePort, killChildrenOnExit, startChild, stopChild } from './children.ts';
import type { Child } from './children.ts';
import { showBreaker, showCache, showRetries } from './demo-steps.ts';
import type { DemoContext, Finding } from './demo-steps.ts';
import { waitUntilReady } from './probe.ts';
import { listenUpstream } from './upstream.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The whole demo, start to summary, must end within this time. */
const DEMO_LIMIT_MS = 50_000;

function demoConfig(ports: DemoContext['ports'], origin: string): string {
  return stringify({
    listeners: {
      egress: { host: '127.0.0.1', port: ports.egress },
      control: { host: '127.0.0.1', port: ports.control },
      metrics: { host: '127.0.0.1', port: ports.metrics },
    },
    log: { level: 'warn' },
    lifecycle: { drainIdle: '0s' },
    hosts: {
      'retry.demo': {
        upstream: origin,
        retry: { retries: 3, backoff: { base: '50ms', max: '200ms', jitter: 'full' } },
        breaker: { failures: 20 },
      },
      'breaker.demo': {
        upstream: origin,
        retry: { retries: 0 },
        breaker: { failures: 3, window: '10s', openFor: '2s' },
      },
      'cache.demo': { upstream: origin, cache: { enabled: true, ttl: '1m' } },
    },
  });
}

/** Collects the agent's breaker transition log lines (warn level) as readable text. */
function collectBreakerLog(agent: Child): string[] {
  const lines: string[] = [];
  const stdout = agent.process.stdout;
  if (stdout === null) return lines;
  createInterface({ input: stdout }).on('line', (line) => {
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry.from !== undefined && entry.to !== undefined) {
        const why = entry.reason === undefined ? '' : ` (${entry.reason})`;
        lines.push(`  ${entry.time} ${entry.host}: ${entry.from} -> ${entry.to}${why}`);
      }
    } catch {
      // Not a JSON log line; nothing to show.
    }
  });

  return lines;
}

/** Stops the agent with SIGTERM, so it flushes its log, and SIGKILL if it takes longer than 5 s. */
async function stopAgent(agent: Child): Promise<void> {
  agent.process.kill('SIGTERM');
  const timer = setTimeout(() => void stopChild(agent), 5000);
  await agent.exited;
  clearTimeout(timer);
}

function summary(findings: readonly Finding[]): string {
  const lines = ['', 'Summary'];
  for (const finding of findings) {
    lines.push(
      `  ${finding.seen ? 'seen    ' : 'MISSING '} ${finding.what}${finding.detail ? `: ${finding.detail}` : ''}`,
    );
  }
  const missing = findings.filter((f) => !f.seen).length;
  lines.push(missing === 0 ? '\nEvery behaviour was seen.' : `\n${missing} behaviour(s) not seen.`);

  return lines.join('\n') + '\n';
}

async function main(): Promise<number> {
  killChildrenOnExit();
  const limit = setTimeout(() => {
    process.stderr.write(`demo did not finish within ${DEMO_LIMIT_MS / 1000} s; stopping\n`);
    process.exit(1);
  }, DEMO_LIMIT_MS);
  limit.unref();
  const dir = mkdtempSync(join(tmpdir(), 'fender-demo-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));

  const upstream = await listenUpstream({ failRate: 0 }, '127.0.0.1', 0);
  const ports = { egress: await freePort(), control: await freePort(), metrics: await freePort() };
  const config = join(dir, 'fender.yaml');
  writeFileSync(config, demoConfig(ports, `http://127.0.0.1:${upstream.port}`));
  const args = [join(ROOT, 'bin', 'fender.ts'), '--config', config];
  const agent = startChild('fender', process.execPath, args, { cwd: ROOT, stdout: 'pipe' });
  const breakerLog = collectBreakerLog(agent);
  // 'close' comes after the last stdout line, unlike 'exit'.
  const agentClosed = once(agent.process, 'close');
  await waitUntilReady(agent, ports.metrics, '/readyz', 15_000);
  process.stdout.write(
    `Fender demo: upstream on 127.0.0.1:${upstream.port}, agent egress 127.0.0.1:${ports.egress}, ` +
      `control 127.0.0.1:${ports.control}\nconfig: ${config}\n`,
  );

  const ctx: DemoContext = { ports, upstream, print: (text) => process.stdout.write(text + '\n') };
  const findings = [
    ...(await showRetries(ctx)),
    ...(await showBreaker(ctx)),
    ...(await showCache(ctx)),
  ];
  await stopAgent(agent);
  await agentClosed;
  process.stdout.write(
    `\nAgent log, breaker transitions:\n${breakerLog.join('\n') || '  (none)'}\n`,
  );
  process.stdout.write(summary(findings));
  upstream.server.closeAllConnections();
  upstream.server.close();

  return findings.every((f) => f.seen) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`demo failed: ${err.message}\n`);
    process.exit(1);
  },
);

import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLocalAddress } from '../../agent/proxy/destination.ts';
import { startControlServer } from '../../control/api.ts';
import { loadConfigFile } from '../../agent/config/load.ts';
import { formatProblem } from '../../agent/config/problems.ts';
import { errorBody, send, startTestAgent, writeConfig } from '../helpers/agent.ts';
import type { TestAgent } from '../helpers/agent.ts';
import { freePort } from '../helpers/process.ts';
import { captureLogger } from './log-capture.ts';

// The egress proxy must never reach Fender's own control and metrics
// listeners, whatever spelling of this machine the request or the config
// uses. Every request here goes to the egress listener on 127.0.0.1; the
// test checks that none of them was forwarded.

/** Returns the first non-internal IPv4 address of this machine, the pod IP in Kubernetes. */
function podIp(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    const found = list?.find((info) => info.family === 'IPv4' && !info.internal);
    if (found !== undefined) return found.address;
  }

  return undefined;
}

/** Host spellings of this machine for `port`. */
function selfAuthorities(port: number): string[] {
  const forms = [
    'localhost',
    '127.0.0.1',
    '127.1',
    '2130706433',
    '0x7f.1',
    '0x7f000001',
    '[::1]',
    MAPPED,
  ];
  const ip = podIp();
  if (ip !== undefined) forms.push(ip);

  return forms.map((host) => `${host}:${port}`);
}

// For an origin-form request @hono/node-server rejects a Host header whose
// URL form differs from it (`[::ffff:127.0.0.1]` parses as `[::ffff:7f00:1]`),
// so that spelling ends as bad_request before any routing.
const MAPPED = '[::ffff:127.0.0.1]';

function expectedError(authority: string, form: 'origin' | 'absolute', otherwise: string): string {
  return form === 'origin' && authority.startsWith(MAPPED) ? 'bad_request' : otherwise;
}

async function startWith(
  unknownHosts: 'reject' | 'passthrough',
  upstreamLines = '',
): Promise<{ agent: TestAgent; control: number; metrics: number }> {
  const control = await freePort();
  const metrics = await freePort();
  const yaml = `listeners:
  egress: { host: 127.0.0.1, port: 0 }
  control: { host: 127.0.0.1, port: ${control} }
  metrics: { host: 127.0.0.1, port: ${metrics} }
unknownHosts: ${unknownHosts}
defaults:
  timeouts: { connect: 1s, read: 2s, total: 3s }
  retry: { retries: 0 }
hosts:
  api.test:
    upstream: http://127.0.0.1:9
${upstreamLines}`;
  const { logger } = captureLogger();
  const agent = await startTestAgent(yaml, {
    startControl: (running, snapshot) =>
      startControlServer({
        host: snapshot.listeners.control.host,
        port: snapshot.listeners.control.port,
        agent: running,
        logger,
      }),
  });

  return { agent, control, metrics };
}

describe('egress isolation from own listeners', () => {
  it('classifies the pod IP as this machine', () => {
    // Checked first, so the proxy cases below never send to the pod IP
    // unless the guard already recognises it.
    const ip = podIp();
    if (ip !== undefined) expect(isLocalAddress(ip)).toBe(true);
  });

  describe('with passthrough on', () => {
    let setup: Awaited<ReturnType<typeof startWith>>;
    beforeAll(async () => {
      setup = await startWith('passthrough');
    });
    afterAll(() => setup.agent.close());

    it('rejects every spelling of the control and metrics listeners', async () => {
      for (const port of [setup.control, setup.metrics]) {
        for (const authority of selfAuthorities(port)) {
          for (const form of ['origin', 'absolute'] as const) {
            const response = await send(setup.agent, authority, '/breakers/api.test/open', {
              method: 'POST',
              form,
            });
            const label = `${form} ${authority}`;
            const error = expectedError(authority, form, 'destination_forbidden');
            expect(errorBody(response).error, label).toBe(error);
            expect(response.status, label).toBe(error === 'bad_request' ? 400 : 403);
          }
        }
      }
      expect(setup.agent.agent.getBreaker('api.test')?.mode).toBe('auto');
    });

    it('still serves the listeners directly', async () => {
      const breakers = await fetch(`http://127.0.0.1:${setup.control}/breakers`);
      expect(breakers.status).toBe(200);
      const metrics = await fetch(`http://127.0.0.1:${setup.metrics}/metrics`);
      expect(metrics.status).toBe(200);
    });
  });

  describe('with passthrough off', () => {
    let setup: Awaited<ReturnType<typeof startWith>>;
    beforeAll(async () => {
      setup = await startWith('reject');
    });
    afterAll(() => setup.agent.close());

    it('rejects every spelling as an unknown host', async () => {
      for (const authority of selfAuthorities(setup.control)) {
        const response = await send(setup.agent, authority, '/breakers/api.test/open', {
          method: 'POST',
        });
        const error = expectedError(authority, 'origin', 'unknown_host');
        expect(errorBody(response).error, authority).toBe(error);
        expect(response.status, authority).toBe(error === 'bad_request' ? 400 : 403);
      }
      expect(setup.agent.agent.getBreaker('api.test')?.mode).toBe('auto');
    });
  });

  it('rejects a config whose upstream is an own listener', async () => {
    const control = await freePort();
    const metrics = await freePort();
    const spellings = ['127.0.0.1', 'localhost', '[::1]', '127.1', '2130706433'];
    const hosts = spellings.flatMap((host, index) => [
      `  c${index}.test: { upstream: "http://${host}:${control}" }`,
      `  m${index}.test: { upstream: "http://${host}:${metrics}" }`,
    ]);
    const yaml = `listeners:
  egress: { host: 127.0.0.1, port: 0 }
  control: { host: 127.0.0.1, port: ${control} }
  metrics: { host: 127.0.0.1, port: ${metrics} }
hosts:
${hosts.join('\n')}
`;
    const loaded = await loadConfigFile(writeConfig(yaml));
    expect(loaded.ok).toBe(false);
    const problems = loaded.ok ? [] : loaded.problems.map(formatProblem);
    for (let index = 0; index < spellings.length; index++) {
      const control = problems.find((problem) =>
        problem.startsWith(`hosts."c${index}.test".upstream: `),
      );
      const metric = problems.find((problem) =>
        problem.startsWith(`hosts."m${index}.test".upstream: `),
      );
      expect(control, spellings[index]).toContain("Fender's own control listener");
      expect(metric, spellings[index]).toContain("Fender's own metrics listener");
    }
  });
});

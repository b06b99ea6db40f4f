import { afterEach, describe, expect, it } from 'vitest';
import {
  EPHEMERAL_LISTENERS,
  errorBody,
  send,
  startTestAgent,
  type TestAgent,
} from '../helpers/agent.ts';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.ts';
import { startControlServer } from '../../control/api.ts';
import type { ControlStarter } from '../../agent/main.ts';

const startControl: ControlStarter = (control, snapshot, logger) =>
  startControlServer({ host: snapshot.listeners.control.host, port: 0, agent: control, logger });

let agent: TestAgent | undefined;
let upstream: FakeUpstream | undefined;

afterEach(async () => {
  await agent?.close();
  await upstream?.close();
  agent = undefined;
  upstream = undefined;
});

describe('passthrough hosts', () => {
  it.each([
    ['127.0.0.1'],
    ['127.1'],
    ['2130706433'],
    ['0x7f.1'],
    ['[::1]'],
    ['[::ffff:127.0.0.1]'],
    ['localhost'],
    ['169.254.169.254'],
    ['[fe80::1]'],
  ])('never reach %s', async (host) => {
    upstream = await startUpstream((_req, res) => res.end('must not be reached'));
    agent = await startTestAgent(`${EPHEMERAL_LISTENERS}
unknownHosts: passthrough
defaults:
  timeouts: { connect: 500ms }
  retry: { retries: 0 }
`);
    const port = host.startsWith('169.254') || host.startsWith('[fe80') ? 80 : upstream.port;

    for (const form of ['absolute', 'origin'] as const) {
      const response = await send(agent, `${host}:${port}`, '/', { form });

      // Hono rejects a Host header whose spelling the URL parser changes
      // (`[::ffff:127.0.0.1]`) with 400 before routing; either way nothing is sent.
      expect(response.headers['x-fender-error']).toMatch(/^(destination_forbidden|bad_request)$/);
      if (form === 'absolute') expect(errorBody(response).error).toBe('destination_forbidden');
    }
    expect(upstream.received).toHaveLength(0);
  });

  it('rejects unknown hosts when passthrough is off', async () => {
    agent = await startTestAgent(`${EPHEMERAL_LISTENERS}`);

    const response = await send(agent, 'example.org', '/');

    expect(response.status).toBe(403);
    expect(errorBody(response).error).toBe('unknown_host');
  });

  it('lets a configured host name a loopback upstream', async () => {
    upstream = await startUpstream((_req, res) => res.end('local service'));
    agent = await startTestAgent(`${EPHEMERAL_LISTENERS}
unknownHosts: passthrough
hosts:
  local.test:
    upstream: ${upstream.origin}
`);

    const response = await send(agent, 'local.test', '/');

    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe('local service');
  });

  it.each([['127.0.0.1'], ['localhost'], ['127.1']])(
    'never reach its own listeners as %s',
    async (host) => {
      agent = await startTestAgent(
        `${EPHEMERAL_LISTENERS}
unknownHosts: passthrough
`,
        { startControl },
      );
      for (const port of [agent.ports.egress, agent.ports.metrics, agent.ports.control as number]) {
        const response = await send(agent, `${host}:${port}`, '/metrics');

        expect(response.status).toBe(403);
        expect(errorBody(response).error).toBe('destination_forbidden');
      }
    },
  );
});

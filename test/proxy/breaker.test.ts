import { afterEach, describe, expect, it } from 'vitest';
import {
  EPHEMERAL_LISTENERS,
  errorBody,
  send,
  startTestAgent,
  type TestAgent,
} from '../helpers/agent.ts';
import { closedPort, startUpstream, type FakeUpstream } from '../helpers/upstream.ts';

let agent: TestAgent | undefined;
let upstream: FakeUpstream | undefined;

afterEach(async () => {
  await agent?.close();
  await upstream?.close();
  agent = undefined;
  upstream = undefined;
});

function config(
  origin: string,
  breaker = '{ failures: 5, window: 60s, openFor: 1s }',
  read = '5s',
): string {
  return `${EPHEMERAL_LISTENERS}
defaults:
  timeouts: { connect: 1s, read: ${read}, total: 10s }
  retry: { retries: 0 }
  breaker: ${breaker}
hosts:
  api.test:
    upstream: ${origin}
`;
}

async function openBreaker(target: TestAgent): Promise<void> {
  for (let i = 0; i < 5; i++) expect((await send(target, 'api.test', '/')).status).toBe(500);
}

describe('circuit breaker', () => {
  it('opens after the failure threshold and fails fast with Retry-After', async () => {
    upstream = await startUpstream((_req, res) => res.writeHead(500).end());
    agent = await startTestAgent(config(upstream.origin));
    await openBreaker(agent);

    const response = await send(agent, 'api.test', '/');

    expect(response.status).toBe(503);
    expect(errorBody(response).error).toBe('circuit_open');
    expect(response.headers['retry-after']).toBe('1');
    expect(upstream.received).toHaveLength(5);
    expect(agent.agent.getBreaker('api.test')?.state).toBe('open');
    expect(
      agent.logs.some(
        (l) => l.msg === 'breaker transition' && l['to'] === 'open' && l.level === 40,
      ),
    ).toBe(true);
  });

  it('admits exactly one probe of 50 concurrent requests when half-open', async () => {
    let healthy = false;
    upstream = await startUpstream((_req, res) => {
      if (healthy) setTimeout(() => res.end('ok'), 500);
      else res.writeHead(500).end();
    });
    agent = await startTestAgent(config(upstream.origin));
    await openBreaker(agent);
    healthy = true;
    await new Promise((resolve) => setTimeout(resolve, 1100));

    const started = Date.now();
    const times: number[] = [];
    const responses = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const response = await send(agent as TestAgent, 'api.test', '/');
        times.push(Date.now() - started);

        return response;
      }),
    );

    expect(upstream.received).toHaveLength(6);
    const ok = responses.filter((r) => r.status === 200);
    const rejected = responses.filter(
      (r) => r.status === 503 && r.headers['x-fender-error'] === 'circuit_open',
    );
    expect(ok).toHaveLength(1);
    expect(rejected).toHaveLength(49);
    // The rejections come at once, well before the probe's 500 ms response.
    expect(times.filter((t) => t < 400)).toHaveLength(49);
    expect(agent.agent.getBreaker('api.test')?.state).toBe('closed');
  });

  it('does not let a stalled upload hold the half-open probe', async () => {
    let healthy = false;
    upstream = await startUpstream((_req, res) => res.writeHead(healthy ? 200 : 500).end());
    agent = await startTestAgent(config(upstream.origin));
    await openBreaker(agent);
    healthy = true;
    await new Promise((resolve) => setTimeout(resolve, 1100));

    const { connect } = await import('node:net');
    const stalled = connect(agent.ports.egress, '127.0.0.1');
    stalled.on('error', () => {});
    stalled.write('POST / HTTP/1.1\r\nHost: api.test\r\nContent-Length: 100\r\n\r\npartial');
    await new Promise((resolve) => setTimeout(resolve, 100));

    const probe = await send(agent, 'api.test', '/');
    stalled.destroy();

    expect(probe.status).toBe(200);
    expect(agent.agent.getBreaker('api.test')?.state).toBe('closed');
  });

  it('re-opens when the probe times out, and admits one probe again', async () => {
    let hang = true;
    upstream = await startUpstream((_req, res) => {
      if (hang) return;
      res.writeHead(500).end();
    });
    agent = await startTestAgent(
      config(upstream.origin, '{ failures: 2, window: 60s, openFor: 500ms }', '300ms'),
    );
    for (let i = 0; i < 2; i++) expect((await send(agent, 'api.test', '/')).status).toBe(504);
    await new Promise((resolve) => setTimeout(resolve, 600));

    const firstWindow = await Promise.all(
      Array.from({ length: 10 }, () => send(agent as TestAgent, 'api.test', '/')),
    );

    expect(firstWindow.filter((r) => r.status === 504)).toHaveLength(1);
    expect(firstWindow.filter((r) => r.status === 503)).toHaveLength(9);
    expect(agent.agent.getBreaker('api.test')?.state).toBe('open');

    hang = false;
    await new Promise((resolve) => setTimeout(resolve, 600));
    const before = upstream.received.length;
    const secondWindow = await Promise.all(
      Array.from({ length: 10 }, () => send(agent as TestAgent, 'api.test', '/')),
    );
    expect(upstream.received.length - before).toBe(1);
    expect(
      secondWindow.filter(
        (r) => r.status === 503 && r.headers['x-fender-error'] === 'circuit_open',
      ),
    ).toHaveLength(9);
  });

  it('stops retrying when its own failures open the breaker', async () => {
    const port = await closedPort();
    const yaml = `${EPHEMERAL_LISTENERS}
defaults:
  timeouts: { connect: 500ms, read: 1s, total: 5s }
  retry: { retries: 3, backoff: { base: 10ms, max: 10ms } }
  breaker: { failures: 2, openFor: 30s }
hosts:
  api.test:
    upstream: http://127.0.0.1:${port}
`;
    agent = await startTestAgent(yaml);

    const response = await send(agent, 'api.test', '/');

    // The second failure opened the breaker: no third attempt, and the
    // application gets the failure itself rather than circuit_open.
    expect(response.status).toBe(502);
    expect(errorBody(response).error).toBe('upstream_connect_failed');
    expect(response.headers['x-fender-attempts']).toBe('2');
    expect(agent.agent.getBreaker('api.test')?.state).toBe('open');
  });

  it('keeps serving in shadow mode while reporting the open state', async () => {
    upstream = await startUpstream((_req, res) => res.writeHead(500).end());
    agent = await startTestAgent(
      config(upstream.origin, '{ failures: 5, window: 60s, openFor: 30s, mode: shadow }'),
    );
    await openBreaker(agent);

    const response = await send(agent, 'api.test', '/');

    expect(response.status).toBe(500);
    expect(upstream.received).toHaveLength(6);
    expect(agent.agent.getBreaker('api.test')?.state).toBe('open');
    expect(agent.logs.some((l) => l.msg.includes('shadow'))).toBe(true);
  });

  it('keeps one failing host from affecting another', async () => {
    const dead = await closedPort();
    upstream = await startUpstream((_req, res) => res.end('healthy'));
    const yaml = `${EPHEMERAL_LISTENERS}
defaults:
  timeouts: { connect: 500ms, read: 1s, total: 5s }
  retry: { retries: 0 }
  breaker: { failures: 2, openFor: 30s }
hosts:
  broken.test:
    upstream: http://127.0.0.1:${dead}
  api.test:
    upstream: ${upstream.origin}
`;
    agent = await startTestAgent(yaml);

    const results = await Promise.all([
      ...Array.from({ length: 10 }, () => send(agent as TestAgent, 'broken.test', '/')),
      ...Array.from({ length: 10 }, () => send(agent as TestAgent, 'api.test', '/')),
    ]);

    expect(results.slice(0, 10).every((r) => r.status === 502 || r.status === 503)).toBe(true);
    expect(results.slice(10).every((r) => r.status === 200)).toBe(true);
    expect(agent.agent.getBreaker('broken.test')?.state).toBe('open');
    expect(agent.agent.getBreaker('api.test')?.state).toBe('closed');
  });

  it('keeps a breaker per concrete host under a wildcard key', async () => {
    upstream = await startUpstream((req, res) =>
      res.writeHead(req.headers['x-fail'] === '1' ? 500 : 200).end(),
    );
    const yaml = `${EPHEMERAL_LISTENERS}
defaults:
  retry: { retries: 0 }
  breaker: { failures: 2, openFor: 30s }
hosts:
  "*.shard.test":
    upstream: ${upstream.origin}
`;
    agent = await startTestAgent(yaml);

    for (let i = 0; i < 2; i++)
      await send(agent, 'a.shard.test', '/', { headers: { 'x-fail': '1' } });

    expect((await send(agent, 'a.shard.test', '/')).status).toBe(503);
    expect((await send(agent, 'b.shard.test', '/')).status).toBe(200);
    const views = agent.agent.listBreakers();
    expect(views.find((v) => v.host === 'a.shard.test')?.state).toBe('open');
    expect(views.find((v) => v.host === 'b.shard.test')?.key).toBe('*.shard.test');
  });
});

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
  retry = '',
  timeouts = '{ connect: 1s, read: 2s, total: 10s }',
): string {
  return `${EPHEMERAL_LISTENERS}
defaults:
  timeouts: ${timeouts}
  retry:
    retries: 2
    backoff: { base: 10ms, max: 5s, jitter: full }
    retryOn: [5xx, 429, connect-failure, reset, timeout]
    budget: { ratio: 1, minPerSecond: 100, window: 10s }
    ${retry}
  breaker: { failures: 1000 }
hosts:
  api.test:
    upstream: ${origin}
`;
}

/** Starts an upstream that responds with `statuses` in turn, then 200. */
function sequence(statuses: number[], headers: Record<string, string> = {}) {
  return startUpstream((_req, res, _body, index) => {
    const status = statuses[index] ?? 200;
    res.writeHead(status, status === 200 ? {} : headers);
    res.end(`attempt ${index + 1}`);
  });
}

describe('retries', () => {
  it('retries a GET on 5xx until it succeeds', async () => {
    upstream = await sequence([503, 502]);
    agent = await startTestAgent(config(upstream.origin));

    const response = await send(agent, 'api.test', '/');

    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe('attempt 3');
    expect(response.headers['x-fender-attempts']).toBe('3');
    expect(upstream.received).toHaveLength(3);
  });

  it('returns the last upstream response when retries run out', async () => {
    upstream = await sequence([503, 503, 503, 503]);
    agent = await startTestAgent(config(upstream.origin));

    const response = await send(agent, 'api.test', '/');

    expect(response.status).toBe(503);
    expect(response.headers['x-fender-error']).toBeUndefined();
    expect(response.body.toString()).toBe('attempt 3');
    expect(response.headers['x-fender-attempts']).toBe('3');
  });

  it('does not retry a POST the upstream answered', async () => {
    upstream = await sequence([503]);
    agent = await startTestAgent(config(upstream.origin));

    const response = await send(agent, 'api.test', '/pay', {
      method: 'POST',
      body: '{"amount":1}',
    });

    expect(response.status).toBe(503);
    expect(upstream.received).toHaveLength(1);
  });

  it('retries a POST with Idempotency-Key, resending the same body', async () => {
    upstream = await sequence([503, 503]);
    agent = await startTestAgent(config(upstream.origin));
    const body = '{"amount":1,"currency":"EUR"}';

    const response = await send(agent, 'api.test', '/pay', {
      method: 'POST',
      body,
      headers: { 'idempotency-key': 'k-1', 'content-type': 'application/json' },
    });

    expect(response.status).toBe(200);
    expect(upstream.received).toHaveLength(3);
    for (const attempt of upstream.received) {
      expect(attempt.body.toString()).toBe(body);
      expect(attempt.headers['idempotency-key']).toBe('k-1');
    }
  });

  it('retries a POST whose connect failed, then reports the connect failure', async () => {
    const port = await closedPort();
    agent = await startTestAgent(config(`http://127.0.0.1:${port}`));

    const response = await send(agent, 'api.test', '/pay', { method: 'POST', body: 'x' });

    expect(response.status).toBe(502);
    expect(errorBody(response).error).toBe('upstream_connect_failed');
    expect(response.headers['x-fender-attempts']).toBe('3');
  });

  it('retries a reset connection for GET', async () => {
    upstream = await startUpstream((req, res, _body, index) => {
      if (index === 0) req.socket.destroy();
      else res.end('ok');
    });
    agent = await startTestAgent(config(upstream.origin));

    const response = await send(agent, 'api.test', '/');

    expect(response.status).toBe(200);
    expect(response.headers['x-fender-attempts']).toBe('2');
  });

  it('waits for Retry-After in seconds', async () => {
    const times: number[] = [];
    upstream = await startUpstream((_req, res, _body, index) => {
      times.push(Date.now());
      if (index < 1) res.writeHead(429, { 'retry-after': '1' }).end();
      else res.end('ok');
    });
    agent = await startTestAgent(config(upstream.origin));

    const response = await send(agent, 'api.test', '/');

    expect(response.status).toBe(200);
    expect((times[1] as number) - (times[0] as number)).toBeGreaterThanOrEqual(950);
  });

  it('waits for Retry-After as an HTTP date', async () => {
    const times: number[] = [];
    upstream = await startUpstream((_req, res, _body, index) => {
      times.push(Date.now());
      // Two seconds ahead, rounded down to the second the date can express.
      if (index < 1)
        res.writeHead(503, { 'retry-after': new Date(Date.now() + 2000).toUTCString() }).end();
      else res.end('ok');
    });
    agent = await startTestAgent(config(upstream.origin));

    const response = await send(agent, 'api.test', '/');

    expect(response.status).toBe(200);
    expect((times[1] as number) - (times[0] as number)).toBeGreaterThanOrEqual(1000);
  });

  it('returns a Retry-After beyond the deadline at once', async () => {
    upstream = await sequence([429], { 'retry-after': '7200' });
    agent = await startTestAgent(config(upstream.origin));
    const started = Date.now();

    const response = await send(agent, 'api.test', '/');

    expect(response.status).toBe(429);
    expect(response.headers['retry-after']).toBe('7200');
    expect(upstream.received).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('falls back to backoff on an unparsable Retry-After', async () => {
    upstream = await sequence([429], { 'retry-after': 'soon' });
    agent = await startTestAgent(config(upstream.origin));
    const started = Date.now();

    const response = await send(agent, 'api.test', '/');

    expect(response.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('does not start a retry whose backoff passes the deadline', async () => {
    upstream = await sequence([503, 503, 503]);
    const yaml = config(upstream.origin, '', '{ connect: 1s, read: 2s, total: 300ms }').replace(
      'backoff: { base: 10ms, max: 5s, jitter: full }',
      'backoff: { base: 1s, max: 5s, jitter: none }',
    );
    agent = await startTestAgent(yaml);
    const started = Date.now();

    const response = await send(agent, 'api.test', '/');

    expect(response.status).toBe(503);
    expect(upstream.received).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(300);
  });

  it('shortens the deadline with x-fender-timeout and sends the time left upstream', async () => {
    upstream = await startUpstream(() => {
      // Never responds: the deadline ends the request.
    });
    agent = await startTestAgent(
      config(upstream.origin, '', '{ connect: 1s, read: 5s, total: 10s }'),
    );
    const started = Date.now();

    const response = await send(agent, 'api.test', '/', {
      headers: { 'x-fender-timeout': '400ms' },
    });

    expect(response.status).toBe(504);
    expect(errorBody(response).error).toBe('deadline_exceeded');
    expect(Date.now() - started).toBeLessThan(2000);
    const sent = upstream.received[0]?.headers['x-fender-timeout'] as string;
    expect(sent).toMatch(/^\d+ms$/);
    expect(Number.parseInt(sent, 10)).toBeLessThanOrEqual(400);
  });

  it('never lengthens the deadline with x-fender-timeout', async () => {
    upstream = await startUpstream(() => {});
    agent = await startTestAgent(
      config(upstream.origin, '', '{ connect: 1s, read: 5s, total: 300ms }'),
    );

    const response = await send(agent, 'api.test', '/', { headers: { 'x-fender-timeout': '1h' } });

    expect(response.status).toBe(504);
    expect(errorBody(response).error).toBe('deadline_exceeded');
  });

  it('rejects a malformed x-fender-timeout with 400', async () => {
    upstream = await startUpstream((_req, res) => res.end());
    agent = await startTestAgent(config(upstream.origin));

    const response = await send(agent, 'api.test', '/', {
      headers: { 'x-fender-timeout': 'soon' },
    });

    expect(response.status).toBe(400);
    expect(errorBody(response).message).toContain('x-fender-timeout');
  });

  it('keeps retries within the budget while the upstream fails', async () => {
    upstream = await startUpstream((_req, res) => res.writeHead(500).end());
    const yaml = config(upstream.origin, '')
      .replace(
        'budget: { ratio: 1, minPerSecond: 100, window: 10s }',
        'budget: { ratio: 0.2, minPerSecond: 1, window: 10s }',
      )
      .replace('retries: 2', 'retries: 3');
    agent = await startTestAgent(yaml);

    const clients = 20;
    const perClient = 10;
    await Promise.all(
      Array.from({ length: clients }, async () => {
        for (let i = 0; i < perClient; i++) {
          const response = await send(agent as TestAgent, 'api.test', '/');
          expect(response.status).toBe(500);
        }
      }),
    );

    const requests = clients * perClient;
    // ratio × requests + minPerSecond × window seconds, against 4 × requests without a budget.
    expect(upstream.received.length).toBeLessThanOrEqual(requests + 0.2 * requests + 10);
    const metrics = await (await fetch(`${agent.metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/fender_retry_budget_exhausted_total\{host="api.test"\} [1-9]/);
  });
});

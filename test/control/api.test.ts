import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startControlServer } from '../../control/api.ts';
import type { BoundListener } from '../../agent/telemetry/listen.ts';
import { captureLogger } from './log-capture.ts';
import { MemoryAgent } from './memory-agent.ts';

const KEYS = ['api.example.com', 'api.example.com:8443', '*.payments.example.com'];

interface Reply {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function call(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const response = await fetch(`${base}${path}`, { method, headers });

  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
}

describe('control API', () => {
  let agent: MemoryAgent;
  let server: BoundListener;
  let base: string;
  let log: ReturnType<typeof captureLogger>;

  beforeEach(async () => {
    agent = new MemoryAgent([...KEYS]);
    log = captureLogger();
    server = await startControlServer({ host: '127.0.0.1', port: 0, agent, logger: log.logger });
    base = `http://127.0.0.1:${server.port}`;
  });
  afterEach(async () => {
    vi.useRealTimers();
    await server.close();
  });

  const changes = () => log.lines.filter((line) => line.level === 40 && line.change !== undefined);

  it('lists breakers', async () => {
    agent.trip('api.example.com', 5);
    const reply = await call(base, 'GET', '/breakers');
    expect(reply.status).toBe(200);
    const breakers = reply.body.breakers as Record<string, unknown>[];
    expect(breakers.map((b) => b.host)).toEqual(['api.example.com', 'api.example.com:8443']);
    expect(breakers[0]).toMatchObject({ state: 'open', mode: 'auto', failures: 5 });
    expect(typeof breakers[0]?.openedAt).toBe('string');
    expect(typeof breakers[0]?.retryAt).toBe('string');
  });

  it('shows one breaker, wildcard hosts included', async () => {
    const exact = await call(base, 'GET', '/breakers/api.example.com:8443');
    expect(exact.status).toBe(200);
    expect(exact.body).toMatchObject({
      host: 'api.example.com:8443',
      key: 'api.example.com:8443',
      state: 'closed',
    });
    const wildcard = await call(base, 'GET', '/breakers/EU.payments.example.com');
    expect(wildcard.status).toBe(200);
    expect(wildcard.body).toMatchObject({
      host: 'eu.payments.example.com',
      key: '*.payments.example.com',
    });
  });

  it('answers 404 for an unconfigured host', async () => {
    const reply = await call(base, 'GET', '/breakers/other.example.org', {
      'x-request-id': 'req-404',
    });
    expect(reply.status).toBe(404);
    expect(reply.body.error).toBe('host_not_found');
    expect(reply.body.host).toBe('other.example.org');
    expect(reply.body.message).toContain('other.example.org');
    expect(reply.body.requestId).toBe('req-404');
  });

  it('rejects a malformed host', async () => {
    const reply = await call(base, 'POST', '/breakers/bad%20host!/open');
    expect(reply.status).toBe(400);
    expect(reply.body.error).toBe('invalid_request');
    expect(reply.body.message).toMatch(/^host: expected a host name/);
  });

  it('forces a breaker open until reset and logs it', async () => {
    const reply = await call(base, 'POST', '/breakers/api.example.com/open', {
      'x-request-id': 'req-open-1',
    });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ state: 'open', mode: 'forced_open', overrideUntil: null });
    expect(agent.getBreaker('api.example.com')?.mode).toBe('forced_open');
    const [line] = changes();
    expect(line).toMatchObject({
      change: 'breaker_override',
      host: 'api.example.com',
      requestId: 'req-open-1',
      remoteAddress: '127.0.0.1',
      before: { state: 'closed', mode: 'auto' },
      after: { state: 'open', mode: 'forced_open' },
    });
    expect(line?.msg).toBe(
      'breaker of api.example.com forced open until reset through the control API',
    );
  });

  it('forces a breaker closed for a duration that expires', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-12-01T10:00:00Z'));
    const reply = await call(base, 'POST', '/breakers/api.example.com/close?for=10m');
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      state: 'closed',
      mode: 'forced_closed',
      overrideUntil: '2026-12-01T10:10:00.000Z',
    });
    expect(changes()[0]).toMatchObject({ change: 'breaker_override', forMs: 600_000 });

    vi.setSystemTime(new Date('2026-12-01T10:10:01Z'));
    const later = await call(base, 'GET', '/breakers/api.example.com');
    expect(later.body).toMatchObject({ mode: 'auto', overrideUntil: null });
  });

  it('rejects bad override durations', async () => {
    for (const [query, text] of [
      ['for=10', '"10"'],
      ['for=ten%20minutes', '"ten minutes"'],
      ['for=0', 'longer than 0'],
    ] as const) {
      const reply = await call(base, 'POST', `/breakers/api.example.com/open?${query}`);
      expect(reply.status, query).toBe(400);
      expect(reply.body.error, query).toBe('invalid_request');
      expect(reply.body.message, query).toMatch(/^for: /);
      expect(reply.body.message, query).toContain(text);
    }
    expect(agent.getBreaker('api.example.com')?.mode).toBe('auto');
    expect(changes()).toEqual([]);
  });

  it('rejects unknown parameters', async () => {
    const reply = await call(base, 'POST', '/breakers/api.example.com/open?fro=10m');
    expect(reply.status).toBe(400);
    expect(reply.body.message).toBe('query: unknown parameter "fro"');
    expect(reply.body.problems).toEqual([{ path: 'query', message: 'unknown parameter "fro"' }]);
  });

  it('resets a breaker to auto', async () => {
    agent.trip('api.example.com', 7);
    await call(base, 'POST', '/breakers/api.example.com/open');
    const reply = await call(base, 'POST', '/breakers/api.example.com/reset');
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ state: 'closed', mode: 'auto', failures: 0 });
    expect(changes()[1]).toMatchObject({
      change: 'breaker_reset',
      before: { mode: 'forced_open' },
      after: { mode: 'auto', state: 'closed' },
    });
  });

  it('answers 404 when overriding an unconfigured host', async () => {
    const reply = await call(base, 'POST', '/breakers/nope.example.org/close');
    expect(reply.status).toBe(404);
    expect(reply.body.error).toBe('host_not_found');
    expect(changes()).toEqual([]);
  });

  it('shows the effective config', async () => {
    const reply = await call(base, 'GET', '/config');
    expect(reply.status).toBe(200);
    expect(reply.body.hash).toBe(agent.hash);
    expect(reply.body.config).toEqual(agent.effectiveConfig());
  });

  it('reloads the config', async () => {
    agent.nextReload = { ok: true, hash: 'b'.repeat(64), changed: true };
    const reply = await call(base, 'POST', '/config/reload');
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({
      hash: 'b'.repeat(64),
      changed: true,
      previousHash: 'a'.repeat(64),
    });
    expect(agent.reloads).toEqual(['control_api']);
    expect(changes()[0]).toMatchObject({
      change: 'config_reload',
      result: 'success',
      hash: 'b'.repeat(64),
      changed: true,
    });
  });

  it('answers 422 with the problems of an invalid config', async () => {
    const problems = [
      'hosts."api.example.com".retry.retries: expected a whole number from 0 to 10, got "three"',
      'log.level: expected one of info, warn',
    ];
    agent.nextReload = { ok: false, problems };
    const reply = await call(base, 'POST', '/config/reload');
    expect(reply.status).toBe(422);
    expect(reply.body.error).toBe('invalid_config');
    expect(reply.body.problems).toEqual(problems);
    expect(reply.body.message).toContain('2 problems');
    expect(agent.hash).toBe('a'.repeat(64));
    expect(changes()[0]).toMatchObject({ change: 'config_reload', result: 'rejected', problems });
  });

  it('shows cache statistics', async () => {
    agent.entries = [{ host: 'api.example.com', path: '/v1/a', bytes: 100 }];
    const reply = await call(base, 'GET', '/cache');
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ entries: 1, bytes: 100, maxEntries: 100 });
  });

  it('purges cache entries by host and prefix', async () => {
    agent.entries = [
      { host: 'api.example.com', path: '/v1/users/1', bytes: 10 },
      { host: 'api.example.com', path: '/v1/users/2', bytes: 10 },
      { host: 'api.example.com', path: '/v1/countries', bytes: 10 },
      { host: 'api.example.com:8443', path: '/v1/users/3', bytes: 10 },
    ];
    const reply = await call(base, 'DELETE', '/cache?host=api.example.com&prefix=/v1/users');
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ purged: 2, host: 'api.example.com', prefix: '/v1/users' });
    expect(agent.entries.map((entry) => entry.path)).toEqual(['/v1/countries', '/v1/users/3']);
    expect(changes()[0]).toMatchObject({
      change: 'cache_purge',
      host: 'api.example.com',
      prefix: '/v1/users',
      purged: 2,
    });

    const all = await call(base, 'DELETE', '/cache');
    expect(all.body).toEqual({ purged: 2, host: null, prefix: null });
  });

  it('rejects purges of unknown hosts and bad prefixes', async () => {
    const host = await call(base, 'DELETE', '/cache?host=nope.example.org');
    expect(host.status).toBe(404);
    expect(host.body.error).toBe('host_not_found');
    const prefix = await call(base, 'DELETE', '/cache?prefix=v1');
    expect(prefix.status).toBe(400);
    expect(prefix.body.message).toBe(
      'prefix: expected a path prefix starting with /, such as /v1/users',
    );
  });

  it('rejects requests from web pages', async () => {
    const reply = await call(base, 'POST', '/breakers/api.example.com/open', {
      origin: 'https://evil.example',
    });
    expect(reply.status).toBe(403);
    expect(reply.body.error).toBe('forbidden_origin');
    expect(agent.getBreaker('api.example.com')?.mode).toBe('auto');
  });

  it('answers unknown endpoints with JSON', async () => {
    const reply = await call(base, 'GET', '/webhooks');
    expect(reply.status).toBe(404);
    expect(reply.body.error).toBe('not_found');
    expect(reply.body.message).toContain('GET /webhooks');
  });

  it('answers 500 without internals when the agent throws', async () => {
    agent.cacheStats = () => {
      throw new Error('secret internal state');
    };
    const reply = await call(base, 'GET', '/cache');
    expect(reply.status).toBe(500);
    expect(reply.body.error).toBe('internal_error');
    expect(JSON.stringify(reply.body)).not.toContain('secret internal state');
    expect(
      log.lines.some((line) => line.level === 50 && line.msg === 'control API request failed'),
    ).toBe(true);
  });
});

describe('control API bearer auth', () => {
  let dir: string;
  let server: BoundListener;
  let base: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fender-token-'));
    writeFileSync(join(dir, 'token'), 's3cret-token\n');
    const { logger } = captureLogger();
    const agent = new MemoryAgent([...KEYS]);
    server = await startControlServer({
      host: '127.0.0.1',
      port: 0,
      agent,
      logger,
      tokenFile: join(dir, 'token'),
    });
    base = `http://127.0.0.1:${server.port}`;
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts the right token', async () => {
    const reply = await call(base, 'GET', '/breakers', { authorization: 'Bearer s3cret-token' });
    expect(reply.status).toBe(200);
  });

  it('rejects a missing token', async () => {
    const reply = await call(base, 'GET', '/breakers');
    expect(reply.status).toBe(401);
    expect(reply.body.error).toBe('unauthorized');
    expect(reply.body.message).toContain('missing bearer token');
    expect(reply.headers.get('www-authenticate')).toBe('Bearer realm="fender-control"');
  });

  it('rejects wrong tokens of any length', async () => {
    for (const token of ['s3cret-tokeX', 's3cret', 's3cret-token-and-more', 'Basic']) {
      const reply = await call(base, 'POST', '/config/reload', {
        authorization: `Bearer ${token}`,
      });
      expect(reply.status, token).toBe(401);
      expect(reply.body.message, token).toContain('invalid bearer token');
    }
    const basic = await call(base, 'GET', '/cache', { authorization: 'Basic czNjcmV0' });
    expect(basic.status).toBe(401);
  });

  it('fails to start without a readable token', async () => {
    const { logger } = captureLogger();
    const agent = new MemoryAgent([...KEYS]);
    const missing = join(dir, 'absent');
    await expect(
      startControlServer({ host: '127.0.0.1', port: 0, agent, logger, tokenFile: missing }),
    ).rejects.toThrow(`cannot read the control token file ${missing} (ENOENT)`);
    writeFileSync(join(dir, 'empty'), ' \n');
    await expect(
      startControlServer({
        host: '127.0.0.1',
        port: 0,
        agent,
        logger,
        tokenFile: join(dir, 'empty'),
      }),
    ).rejects.toThrow('is empty');
  });
});

describe('control listener start', () => {
  it('names the address when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as AddressInfo).port;
    const { logger } = captureLogger();
    const start = startControlServer({
      host: '127.0.0.1',
      port,
      agent: new MemoryAgent(KEYS),
      logger,
    });
    await expect(start).rejects.toThrow(
      `cannot listen on 127.0.0.1:${port} for the control listener: EADDRINUSE`,
    );
    await new Promise((resolve) => blocker.close(resolve));
  });

  it('warns when bound beyond loopback without a token', async () => {
    const log = captureLogger();
    const server = await startControlServer({
      host: '0.0.0.0',
      port: 0,
      agent: new MemoryAgent(KEYS),
      logger: log.logger,
    });
    await server.close();
    expect(
      log.lines.some(
        (line) =>
          line.level === 40 && String(line.msg).includes('without listeners.control.tokenFile'),
      ),
    ).toBe(true);
  });
});

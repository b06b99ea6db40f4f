import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startControlServer } from '../../control/api.ts';
import type { BoundListener } from '../../agent/telemetry/listen.ts';
import { captureLogger } from './log-capture.ts';
import { MemoryAgent } from './memory-agent.ts';

// fenderctl runs as a child process under this test's Node (the project's
// Node 24), against a real control listener in this process.

const ROOT = resolve(import.meta.dirname, '../..');
const FENDERCTL = join(ROOT, 'control/fenderctl.ts');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function fenderctl(args: string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [FENDERCTL, ...args],
      { cwd: ROOT, timeout: 15_000 },
      (error, stdout, stderr) => {
        let code = 0;
        if (error !== null) code = typeof error.code === 'number' ? error.code : -1;
        done({ code, stdout, stderr });
      },
    );
  });
}

async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const port = (server.address() as AddressInfo).port;
  await new Promise((closed) => server.close(closed));

  return port;
}

describe('fenderctl', () => {
  let agent: MemoryAgent;
  let server: BoundListener;
  let url: string;

  beforeAll(async () => {
    agent = new MemoryAgent(['api.example.com', '*.payments.example.com']);
    server = await startControlServer({
      host: '127.0.0.1',
      port: 0,
      agent,
      logger: captureLogger().logger,
    });
    url = `http://127.0.0.1:${server.port}`;
  });
  afterAll(() => server.close());
  beforeEach(() => {
    agent.resetBreaker('api.example.com');
  });

  it('prints breakers as an aligned table', async () => {
    agent.trip('api.example.com', 5);
    agent.getBreaker('eu.payments.example.com');
    const run = await fenderctl(['breakers', '--url', url]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^HOST\s+KEY\s+STATE\s+MODE\s+FAILURES\s+OPENED\s+RETRY\s+OVERRIDE ENDS$/,
    );
    const api = lines.find((line) => line.startsWith('api.example.com'));
    const eu = lines.find((line) => line.startsWith('eu.payments.example.com'));
    // Spawning fenderctl may take a second or two on a loaded machine.
    expect(api).toMatch(
      /^api\.example\.com\s+-\s+open\s+auto\s+5\s+[0-3]s ago\s+in (2[7-9]|30)s\s+-$/,
    );
    expect(eu).toMatch(
      /^eu\.payments\.example\.com\s+\*\.payments\.example\.com\s+closed\s+auto\s+0\s+-\s+-\s+-$/,
    );
    const stateColumn = lines[0]?.indexOf('STATE');
    expect(api?.indexOf('open')).toBe(stateColumn);
    expect(eu?.indexOf('closed')).toBe(stateColumn);
  });

  it('prints breakers as JSON', async () => {
    const run = await fenderctl(['breakers', '--json', '--url', url]);
    expect(run.code).toBe(0);
    const body = JSON.parse(run.stdout) as { breakers: { host: string }[] };
    expect(body.breakers.map((breaker) => breaker.host)).toEqual(
      agent.listBreakers().map((view) => view.host),
    );
  });

  it('forces a breaker open for a duration', async () => {
    const run = await fenderctl([
      'breaker',
      'open',
      'api.example.com',
      '--for',
      '10m',
      '--url',
      url,
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const view = agent.getBreaker('api.example.com');
    expect(view?.mode).toBe('forced_open');
    expect(run.stdout).toBe(`api.example.com: forced open until ${view?.overrideUntil}\n`);
    expect(Date.parse(view?.overrideUntil ?? '') - Date.now()).toBeGreaterThan(590_000);
  });

  it('forces a breaker closed and resets it', async () => {
    const close = await fenderctl(['breaker', 'close', 'api.example.com', '--url', url]);
    expect(close.stdout).toBe('api.example.com: forced closed until reset\n');
    expect(agent.getBreaker('api.example.com')?.mode).toBe('forced_closed');
    const reset = await fenderctl(['breaker', 'reset', 'api.example.com', '--url', url]);
    expect(reset.stdout).toBe('api.example.com: auto, closed\n');
    expect(agent.getBreaker('api.example.com')?.mode).toBe('auto');
  });

  it('reports an unconfigured host', async () => {
    const run = await fenderctl(['breaker', 'open', 'nope.example.org', '--url', url]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      'fenderctl: breaker open nope.example.org failed: nope.example.org matches no configured host key; fenderctl breakers lists them\n',
    );
  });

  it('reports an invalid duration', async () => {
    const run = await fenderctl([
      'breaker',
      'open',
      'api.example.com',
      '--for',
      '10',
      '--url',
      url,
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      'breaker open api.example.com failed: for: expected a duration with a unit',
    );
    expect(run.stderr).toContain('got "10"');
  });

  it('reloads the config', async () => {
    agent.hash = 'a'.repeat(64);
    agent.nextReload = { ok: true, hash: 'c'.repeat(64), changed: true };
    const run = await fenderctl(['reload', '--url', url]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`config reloaded: hash ${'a'.repeat(64)} -> ${'c'.repeat(64)}\n`);
    agent.nextReload = { ok: true, hash: 'c'.repeat(64), changed: false };
    const again = await fenderctl(['reload', '--url', url]);
    expect(again.stdout).toBe(`config unchanged: hash ${'c'.repeat(64)}\n`);
  });

  it('lists the problems of a rejected reload', async () => {
    agent.nextReload = {
      ok: false,
      problems: [
        'hosts."api.example.com".retry.retries: expected a whole number from 0 to 10, got "three"',
      ],
    };
    const run = await fenderctl(['reload', '--url', url]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      'fenderctl: config reload failed: the config file is invalid (1 problem); the loaded config stays in effect\n' +
        '  hosts."api.example.com".retry.retries: expected a whole number from 0 to 10, got "three"\n',
    );
    const json = await fenderctl(['reload', '--json', '--url', url]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      error: 'invalid_config',
      problems: agent.nextReload.problems,
    });
  });

  it('purges the cache', async () => {
    agent.entries = [
      { host: 'api.example.com', path: '/v1/users/1', bytes: 5 },
      { host: 'api.example.com', path: '/v1/users/2', bytes: 5 },
      { host: 'api.example.com', path: '/v1/countries', bytes: 5 },
    ];
    const run = await fenderctl([
      'cache',
      'purge',
      '--host',
      'api.example.com',
      '--prefix',
      '/v1/users',
      '--url',
      url,
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('purged 2 cache entries for api.example.com under /v1/users\n');
    expect(agent.entries.map((entry) => entry.path)).toEqual(['/v1/countries']);
    const all = await fenderctl(['cache', 'purge', '--json', '--url', url]);
    expect(JSON.parse(all.stdout)).toEqual({ purged: 1, host: null, prefix: null });
  });

  it('rejects bad usage before sending', async () => {
    for (const args of [
      ['breaker', 'open'],
      ['breaker', 'toggle', 'api.example.com'],
      ['cache', 'purge', '--for', '1m'],
      ['breaker', 'reset', 'api.example.com', '--for', '1m'],
      ['breakers', 'extra'],
      ['bogus'],
      ['breakers', '--bogus'],
    ]) {
      const run = await fenderctl([...args, '--url', url]);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr, args.join(' ')).toMatch(/^fenderctl: .+\n\nusage: fenderctl/);
    }
    expect(agent.getBreaker('api.example.com')?.mode).toBe('auto');
  });
});

describe('fenderctl failures', () => {
  it('names the URL when the agent is unreachable', async () => {
    const port = await unusedPort();
    const run = await fenderctl(['breakers', '--url', `http://127.0.0.1:${port}`]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `fenderctl: cannot reach the Fender control API at http://127.0.0.1:${port} (ECONNREFUSED): check that the agent is running and that --url names its control listener (listeners.control, default http://127.0.0.1:7701)\n`,
    );
  });

  it('reports a response that is not the control API', async () => {
    const other = createServer((_req, res) => res.end('<html>hello</html>'));
    await new Promise<void>((listening) => other.listen(0, '127.0.0.1', listening));
    const port = (other.address() as AddressInfo).port;
    const run = await fenderctl(['breakers', '--url', `http://127.0.0.1:${port}`]);
    await new Promise((closed) => other.close(closed));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      'responded with status 200 and a body that is not the control API',
    );
  });

  it('reports a missing or wrong token', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fenderctl-token-'));
    writeFileSync(join(dir, 'token'), 'right-token\n');
    writeFileSync(join(dir, 'wrong'), 'wrong-token\n');
    const agent = new MemoryAgent(['api.example.com']);
    const { logger } = captureLogger();
    const server = await startControlServer({
      host: '127.0.0.1',
      port: 0,
      agent,
      logger,
      tokenFile: join(dir, 'token'),
    });
    const url = `http://127.0.0.1:${server.port}`;
    try {
      const missing = await fenderctl(['breakers', '--url', url]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('missing bearer token');
      expect(missing.stderr).toContain('pass --token-file');
      const wrong = await fenderctl(['breakers', '--url', url, '--token-file', join(dir, 'wrong')]);
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain('invalid bearer token');
      const absent = await fenderctl([
        'breakers',
        '--url',
        url,
        '--token-file',
        join(dir, 'absent'),
      ]);
      expect(absent.code).toBe(1);
      expect(absent.stderr).toBe(
        `fenderctl: cannot read --token-file ${join(dir, 'absent')} (ENOENT)\n`,
      );
      const right = await fenderctl(['breakers', '--url', url, '--token-file', join(dir, 'token')]);
      expect(right.stderr).toBe('');
      expect(right.code).toBe(0);
      expect(right.stdout).toMatch(/^HOST/);
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

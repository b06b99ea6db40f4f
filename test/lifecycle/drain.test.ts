import { afterEach, describe, expect, it } from 'vitest';
import { send, writeConfig } from '../helpers/agent.ts';
import { freePort, spawnFender, waitForStatus, type AgentProcess } from '../helpers/process.ts';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.ts';

let upstream: FakeUpstream | undefined;
let fender: AgentProcess | undefined;

afterEach(async () => {
  fender?.child.kill('SIGKILL');
  await upstream?.close();
  fender = undefined;
  upstream = undefined;
});

async function start(drain: string): Promise<{ egress: number; metrics: number }> {
  upstream = await startUpstream((_req, res) => res.end('ok'));
  const egress = await freePort();
  const metrics = await freePort();
  const control = await freePort();
  const path = writeConfig(`listeners:
  egress: { host: 127.0.0.1, port: ${egress} }
  control: { host: 127.0.0.1, port: ${control} }
  metrics: { host: 127.0.0.1, port: ${metrics} }
lifecycle: ${drain}
hosts:
  api.test:
    upstream: ${upstream.origin}
`);
  fender = spawnFender(['--config', path]);
  await waitForStatus(`http://127.0.0.1:${metrics}/readyz`, 200);

  return { egress, metrics };
}

describe('SIGTERM drain', () => {
  it('keeps serving while traffic lasts, then exits 0 after drainIdle', async () => {
    const { egress, metrics } = await start('{ drainIdle: 1s, drainTimeout: 20s }');
    const agent = { ports: { egress } };
    (fender as AgentProcess).child.kill('SIGTERM');
    await waitForStatus(`http://127.0.0.1:${metrics}/readyz`, 503, 2000);

    const statuses: number[] = [];
    const trafficEnds = Date.now() + 3000;
    while (Date.now() < trafficEnds) {
      statuses.push((await send(agent, 'api.test', '/')).status);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const stoppedAt = Date.now();
    const code = await (fender as AgentProcess).exited;
    const exitAfter = Date.now() - stoppedAt;

    expect(statuses.length).toBeGreaterThan(20);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(code).toBe(0);
    expect(exitAfter).toBeGreaterThanOrEqual(800);
    expect(exitAfter).toBeLessThan(3000);
  });

  it('exits by drainTimeout even while traffic continues', async () => {
    const { egress } = await start('{ drainIdle: 5s, drainTimeout: 1500ms }');
    const agent = { ports: { egress } };
    const signalledAt = Date.now();
    (fender as AgentProcess).child.kill('SIGTERM');
    let running = true;
    const traffic = (async () => {
      while (running) {
        await send(agent, 'api.test', '/').catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();

    const code = await (fender as AgentProcess).exited;
    running = false;
    await traffic;

    expect(code).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(4000);
  });

  it('exits at once on a second signal', async () => {
    await start('{ drainIdle: 10s, drainTimeout: 20s }');
    const child = (fender as AgentProcess).child;
    child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const secondAt = Date.now();
    child.kill('SIGINT');

    const code = await (fender as AgentProcess).exited;

    expect(code).toBe(130);
    expect(Date.now() - secondAt).toBeLessThan(2000);
  });

  it('exits 1 with every problem on an invalid config', async () => {
    const path = writeConfig(
      'hosts:\n  api.test:\n    upstream: ftp://nope\n    retry: { retries: three }\n',
    );
    fender = spawnFender(['--config', path]);

    const code = await fender.exited;

    expect(code).toBe(1);
    expect(fender.output.stderr).toContain('hosts."api.test".retry.retries');
    expect(fender.output.stderr).toContain('hosts."api.test".upstream');
  });
});

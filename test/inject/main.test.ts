import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { request } from 'node:https';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { SecretVolume, makeCa, makeServingCert } from './certs.ts';

// The injector as the image runs it: its own process, stopped by SIGTERM.

const ROOT = join(import.meta.dirname, '..', '..');
const MAIN = join(ROOT, 'control', 'inject', 'main.ts');

function start(args: string[]): {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  exit: Promise<number | null>;
} {
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(JSON.parse(line)));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  return { child, lines, exit };
}

async function waitFor<T>(find: () => T | undefined, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function get(port: number, ca: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, ca, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    })
      .on('error', reject)
      .end();
  });
}

describe('injector process', () => {
  it('serves over TLS and exits 0 on SIGTERM', async () => {
    const ca = await makeCa();
    const pem = await makeServingCert(ca);
    const volume = new SecretVolume({ 'tls.crt': pem.cert, 'tls.key': pem.key });
    const { child, lines, exit } = start([
      `--tls-cert=${volume.certFile}`,
      `--tls-key=${volume.keyFile}`,
      '--host=127.0.0.1',
      '--port=0',
      '--shutdown-delay=0s',
    ]);
    try {
      const listening = await waitFor(() =>
        lines.find((line) => line['msg'] === 'injector listening'),
      );
      const port = listening['port'] as number;
      expect(await get(port, ca.cert, '/readyz')).toBe(200);

      child.kill('SIGTERM');
      expect(await exit).toBe(0);
      expect(lines.map((line) => line['msg'])).toContain('injector stopped');
    } finally {
      child.kill('SIGKILL');
      volume.remove();
    }
  });

  it('exits 1 when the certificate is missing', async () => {
    const { lines, exit } = start([
      '--tls-cert=/nonexistent/tls.crt',
      '--tls-key=/nonexistent/tls.key',
      '--port=0',
    ]);
    expect(await exit).toBe(1);
    expect(lines).toContainEqual(
      expect.objectContaining({ msg: 'injector failed to start', level: 60 }),
    );
  });

  it('exits 2 on a bad option', async () => {
    const bad = [
      ['--port=http'],
      ['--shutdown-delay=5'],
      ['--log-level=loud'],
      ['--no-such-option'],
      ['--image=a b'],
      ['--cluster-domain=-bad-'],
    ];
    for (const args of bad) {
      const { child, exit } = start(args);
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      expect(await exit, args.join(' ')).toBe(2);
      expect(stderr, args.join(' ')).toContain('usage: node control/inject/main.ts');
    }
  });
});

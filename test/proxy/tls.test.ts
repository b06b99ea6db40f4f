import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import selfsigned from 'selfsigned';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { errorBody, send, writeConfig } from '../helpers/agent.ts';
import { freePort, spawnFender, waitForStatus, type AgentProcess } from '../helpers/process.ts';

// A certificate for localhost and 127.0.0.1 that the test makes; the agent
// trusts it through NODE_EXTRA_CA_CERTS, as a pod trusts an internal CA.
let pems: { private: string; cert: string };
let caFile: string;
let server: Server | undefined;
let fender: AgentProcess | undefined;
const seen: Array<{ url: string; host: string | undefined; secure: boolean }> = [];

beforeAll(async () => {
  pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  caFile = join(mkdtempSync(join(tmpdir(), 'fender-tls-')), 'ca.pem');
  writeFileSync(caFile, pems.cert);
});

afterEach(async () => {
  fender?.child.kill('SIGKILL');
  await new Promise<void>((resolve) =>
    server === undefined ? resolve() : server.close(() => resolve()),
  );
  fender = undefined;
  server = undefined;
});

async function start(env: NodeJS.ProcessEnv): Promise<number> {
  server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    seen.push({ url: req.url ?? '', host: req.headers.host, secure: 'encrypted' in req.socket });
    res.end('over tls');
  });
  await new Promise<void>((resolve) => (server as Server).listen(0, '127.0.0.1', resolve));
  const upstreamPort = ((server as Server).address() as AddressInfo).port;
  const egress = await freePort();
  const metrics = await freePort();
  const path = writeConfig(`listeners:
  egress: { host: 127.0.0.1, port: ${egress} }
  control: { host: 127.0.0.1, port: ${await freePort()} }
  metrics: { host: 127.0.0.1, port: ${metrics} }
defaults:
  retry: { retries: 0 }
hosts:
  secure.test:
    upstream: https://localhost:${upstreamPort}
`);
  fender = spawnFender(['--config', path], env);
  await waitForStatus(`http://127.0.0.1:${metrics}/readyz`, 200);

  return egress;
}

describe('TLS origination', () => {
  it('calls an https upstream for a plain HTTP request', async () => {
    const egress = await start({ NODE_EXTRA_CA_CERTS: caFile });

    const response = await send({ ports: { egress } }, 'secure.test', '/v1/ping?x=1');

    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe('over tls');
    expect(seen.at(-1)?.secure).toBe(true);
    expect(seen.at(-1)?.url).toBe('/v1/ping?x=1');
  });

  it('fails to connect when the certificate is not trusted', async () => {
    const egress = await start({ NODE_EXTRA_CA_CERTS: '' });

    const response = await send({ ports: { egress } }, 'secure.test', '/');

    expect(response.status).toBe(502);
    expect(errorBody(response).error).toBe('upstream_connect_failed');
    expect(errorBody(response).message).toMatch(/certificate/i);
  });
});

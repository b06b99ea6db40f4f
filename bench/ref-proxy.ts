// The Node.js reference row: the smallest useful reverse proxy on node:http
// and an undici Pool, with `pool.stream()` writing the upstream body straight
// into the ServerResponse. It has no policies at all, so it marks how fast a
// Node.js proxy can be on this machine; Fender is judged against it.
// Run: `node bench/ref-proxy.ts --upstream http://127.0.0.1:P [--port P] [--exit-on-stdin-close]`.
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
]);

function forwardable(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }

  return out;
}

function proxy(pool: Pool, req: IncomingMessage, res: ServerResponse): void {
  const method = (req.method ?? 'GET') as Dispatcher.HttpMethod;
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'];
  pool.stream(
    { path: req.url ?? '/', method, headers: forwardable(req.headers), body: hasBody ? req : null },
    ({ statusCode, headers }) => {
      res.writeHead(statusCode, forwardable(headers as IncomingHttpHeaders));

      return res;
    },
    (err) => {
      if (err === null) return;
      if (res.headersSent) {
        res.destroy(err);
      } else {
        res.writeHead(502, { 'content-type': 'text/plain' }).end(`upstream failed: ${err.message}`);
      }
    },
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      upstream: { type: 'string' },
      'exit-on-stdin-close': { type: 'boolean', default: false },
    },
  });
  if (values.upstream === undefined) {
    throw new Error(
      '--upstream is missing: pass the origin to proxy to, e.g. http://127.0.0.1:18080',
    );
  }
  const pool = new Pool(values.upstream, { connections: 256, keepAliveTimeout: 60_000 });
  const server = createServer((req, res) => proxy(pool, req, res));
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(Number(values.port), values.host, resolve));
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`listening http://${values.host}:${port}\n`);
  if (values['exit-on-stdin-close']) {
    process.stdin.on('end', () => process.exit(0));
    process.stdin.resume();
  }
}

if (import.meta.main) {
  await main();
}

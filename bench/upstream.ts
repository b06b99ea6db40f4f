// The benchmark's and the demo's upstream: a plain node:http server with one
// route per scenario. Run it as its own process with
// `node bench/upstream.ts [--host H] [--port P] [--fail-rate F] [--exit-on-stdin-close]`;
// it prints `listening http://H:P` on stdout once bound, so a parent can pass port 0.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

/** Size of the JSON body of `GET /json` and every other unmatched GET. */
export const JSON_BODY_BYTES = 1024;
/** Size of the chunked body of `GET /stream`. */
export const STREAM_BODY_BYTES = 1024 * 1024;
const STREAM_CHUNK_BYTES = 64 * 1024;

/** Failure injection for `GET /unstable`, changed at run time by the demo. */
export interface Faults {
  /** Return 503 to every request while set. */
  down: boolean;
  /** Return 503 to this many requests, then succeed again. */
  failNext: number;
}

export interface UpstreamOptions {
  /** Share of `GET /flaky` requests failed with 503 unless `?failRate=` overrides it. */
  readonly failRate: number;
  readonly faults?: Faults;
}

export interface Upstream {
  readonly server: Server;
  readonly faults: Faults;
  /** Requests received per route (`json`, `ack`, `stream`, `flaky`, `fail`, `unstable`). */
  readonly counts: Map<string, number>;
}

const JSON_BODY = makeJsonBody(JSON_BODY_BYTES);
const JSON_HEADERS = {
  'content-type': 'application/json',
  'content-length': String(JSON_BODY.length),
};
const STREAM_CHUNK = Buffer.alloc(STREAM_CHUNK_BYTES, 'a');

/** Builds a JSON document of exactly `bytes` bytes, padded with one string field. */
function makeJsonBody(bytes: number): Buffer {
  const doc = { id: 42, name: 'fender-bench', tags: ['a', 'b', 'c'], pad: '' };
  const unpadded = Buffer.byteLength(JSON.stringify(doc));
  doc.pad = 'x'.repeat(bytes - unpadded);

  return Buffer.from(JSON.stringify(doc));
}

function sendJson(res: ServerResponse, status: number, body: Buffer = JSON_BODY): void {
  if (body === JSON_BODY) {
    res.writeHead(status, JSON_HEADERS);
  } else {
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length });
  }
  res.end(body);
}

function sendError(res: ServerResponse, status: number, reason: string): void {
  sendJson(res, status, Buffer.from(JSON.stringify({ error: reason })));
}

/** Reads the whole request body and responds with how many bytes arrived. */
function acknowledge(req: IncomingMessage, res: ServerResponse): void {
  let received = 0;
  req.on('data', (chunk: Buffer) => {
    received += chunk.length;
  });
  req.on('end', () => sendJson(res, 200, Buffer.from(JSON.stringify({ received }))));
}

/** Streams STREAM_BODY_BYTES without a content-length, waiting for `drain` between chunks. */
function streamBody(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream' });
  let left = STREAM_BODY_BYTES / STREAM_CHUNK_BYTES;
  const writeMore = (): void => {
    while (left > 0) {
      left -= 1;
      if (left === 0) {
        res.end(STREAM_CHUNK);

        return;
      }
      if (!res.write(STREAM_CHUNK)) {
        res.once('drain', writeMore);

        return;
      }
    }
  };
  writeMore();
}

function flakyFailRate(url: string, fallback: number): number {
  const at = url.indexOf('failRate=');
  if (at === -1) return fallback;
  const value = Number.parseFloat(url.slice(at + 'failRate='.length));

  return Number.isFinite(value) ? value : fallback;
}

function serveUnstable(res: ServerResponse, faults: Faults): void {
  if (faults.down) {
    sendError(res, 503, 'upstream is down');
  } else if (faults.failNext > 0) {
    faults.failNext -= 1;
    sendError(res, 503, 'injected failure');
  } else {
    sendJson(res, 200);
  }
}

/** Returns the route name of a request path; the query string is ignored. */
function routeOf(method: string, url: string): string {
  const end = url.indexOf('?');
  const path = end === -1 ? url : url.slice(0, end);
  if (method === 'POST' && path === '/ack') return 'ack';
  if (path === '/stream') return 'stream';
  if (path === '/flaky') return 'flaky';
  if (path === '/fail') return 'fail';
  if (path === '/unstable') return 'unstable';
  if (path === '/healthz') return 'healthz';

  return 'json';
}

export function createUpstream(options: UpstreamOptions): Upstream {
  const faults = options.faults ?? { down: false, failNext: 0 };
  const counts = new Map<string, number>();
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    const route = routeOf(req.method ?? 'GET', url);
    counts.set(route, (counts.get(route) ?? 0) + 1);
    switch (route) {
      case 'ack':
        return acknowledge(req, res);
      case 'stream':
        return streamBody(res);
      case 'flaky':
        if (Math.random() < flakyFailRate(url, options.failRate)) {
          return sendError(res, 503, 'injected failure');
        }

        return sendJson(res, 200);
      case 'fail':
        return sendError(res, 500, 'always fails');
      case 'unstable':
        return serveUnstable(res, faults);
      default:
        // Requests with a body on other routes are drained so the connection stays usable.
        req.resume();

        return sendJson(res, 200);
    }
  });
  // Longer than any proxy's pool idle timeout, so the upstream never closes a
  // pooled connection the proxy is about to reuse.
  server.keepAliveTimeout = 65_000;

  return { server, faults, counts };
}

/** Starts an upstream and resolves once it listens; port 0 picks a free port. */
export async function listenUpstream(
  options: UpstreamOptions,
  host: string,
  port: number,
): Promise<Upstream & { readonly port: number }> {
  const upstream = createUpstream(options);
  await new Promise<void>((resolve, reject) => {
    upstream.server.once('error', reject);
    upstream.server.listen(port, host, () => resolve());
  });

  return { ...upstream, port: (upstream.server.address() as AddressInfo).port };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      'fail-rate': { type: 'string', default: '0.1' },
      'exit-on-stdin-close': { type: 'boolean', default: false },
    },
  });
  const failRate = Number(values['fail-rate']);
  if (!(failRate >= 0 && failRate <= 1)) {
    throw new Error(`--fail-rate must be a number from 0 to 1, got ${values['fail-rate']}`);
  }
  const upstream = await listenUpstream({ failRate }, values.host, Number(values.port));
  process.stdout.write(`listening http://${values.host}:${upstream.port}\n`);
  if (values['exit-on-stdin-close']) {
    // A parent that keeps stdin open ends this process by exiting, even when killed with SIGKILL.
    process.stdin.on('end', () => process.exit(0));
    process.stdin.resume();
  }
}

if (import.meta.main) {
  await main();
}

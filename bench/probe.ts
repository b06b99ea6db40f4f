// Single HTTP requests from the benchmark and the demo to their own loopback
// servers: readiness polling and behaviour checks. The load itself comes from
// the load generator, never from here.
import { request } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Child } from './children.ts';

export interface ProbeRequest {
  readonly port: number;
  readonly path: string;
  readonly method?: string;
  /** The Host header; the proxy routes on it. */
  readonly host?: string;
  readonly headers?: Record<string, string>;
  readonly body?: Buffer;
  readonly timeoutMs?: number;
}

export interface ProbeResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** Sends one request to 127.0.0.1 on a fresh connection and reads the whole response. */
export function probe(req: ProbeRequest): Promise<ProbeResponse> {
  const headers: Record<string, string> = { ...req.headers };
  if (req.host !== undefined) headers.host = req.host;
  if (req.body !== undefined) headers['content-length'] = String(req.body.length);

  return new Promise<ProbeResponse>((resolve, reject) => {
    const outgoing = request(
      {
        host: '127.0.0.1',
        port: req.port,
        path: req.path,
        method: req.method ?? 'GET',
        headers,
        agent: false,
        timeout: req.timeoutMs ?? 5000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
        res.on('error', reject);
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(new Error(`request to :${req.port} timed out`)));
    outgoing.on('error', reject);
    outgoing.end(req.body);
  });
}

/**
 * Polls `GET path` on `port` every 50 ms until it returns 200; fails when the
 * child exits first or `timeoutMs` passes.
 */
export async function waitUntilReady(
  child: Child,
  port: number,
  path: string,
  timeoutMs: number,
): Promise<void> {
  let exit: number | string | undefined;
  void child.exited.then((code) => {
    exit = code;
  });
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (exit !== undefined) {
      throw new Error(`${child.name} exited (${exit}) before it was ready:\n${child.stderrTail()}`);
    }
    try {
      const res = await probe({ port, path, timeoutMs: 1000 });
      if (res.status === 200) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(50);
  }
  throw new Error(
    `${child.name} not ready within ${timeoutMs} ms (GET :${port}${path}: ${last}):\n${child.stderrTail()}`,
  );
}

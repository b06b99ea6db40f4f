import { mkdtempSync, writeFileSync } from 'node:fs';
import {
  request as httpRequest,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { loadConfigFile } from '../../agent/config/load.ts';
import { formatProblem } from '../../agent/config/problems.ts';
import { startAgent, type RunningAgent, type StartOptions } from '../../agent/main.ts';

/** A parsed pino line. */
export type LogLine = Record<string, unknown> & { msg: string; level: number };

export interface TestAgent extends RunningAgent {
  readonly logs: LogLine[];
  readonly configPath: string;
  readonly egressUrl: string;
  readonly metricsUrl: string;
}

/** Writes `yaml` to a temp dir as fender.yaml; listeners default to ephemeral loopback ports. */
export function writeConfig(
  yaml: string,
  dir = mkdtempSync(join(tmpdir(), 'fender-test-')),
): string {
  const path = join(dir, 'fender.yaml');
  writeFileSync(path, yaml);

  return path;
}

export const EPHEMERAL_LISTENERS = `listeners:
  egress: { host: 127.0.0.1, port: 0 }
  control: { host: 127.0.0.1, port: 0 }
  metrics: { host: 127.0.0.1, port: 0 }
`;

/** Starts a real agent in this process from config text, capturing its log lines. */
export async function startTestAgent(
  yaml: string,
  options: Partial<Omit<StartOptions, 'snapshot'>> & { configPath?: string } = {},
): Promise<TestAgent> {
  const configPath = options.configPath ?? writeConfig(yaml);
  const loaded = await loadConfigFile(configPath);
  if (!loaded.ok)
    throw new Error(`test config invalid:\n${loaded.problems.map(formatProblem).join('\n')}`);

  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line !== '') logs.push(JSON.parse(line) as LogLine);
      callback();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  const running = await startAgent({ snapshot: loaded.snapshot, logger, watch: false, ...options });

  return {
    ...running,
    logs,
    configPath,
    egressUrl: `http://127.0.0.1:${running.ports.egress}`,
    metricsUrl: `http://127.0.0.1:${running.ports.metrics}`,
  };
}

export interface ProxyResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** Set when the connection ended before the body was complete. */
  readonly error?: Error;
}

export interface SendOptions {
  readonly method?: string;
  readonly headers?: OutgoingHttpHeaders;
  readonly body?: Buffer | string;
  /** `absolute` sends `GET http://host/path` as through HTTP_PROXY; `origin` sends `GET /path` with Host. */
  readonly form?: 'absolute' | 'origin';
}

/** Sends one request to the agent's egress listener, as an application would. */
export function send(
  agent: { ports: { egress: number } },
  host: string,
  path: string,
  options: SendOptions = {},
): Promise<ProxyResponse> {
  const form = options.form ?? 'origin';

  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1',
      port: agent.ports.egress,
      method: options.method ?? 'GET',
      path: form === 'absolute' ? `http://${host}${path}` : path,
      headers: { host, ...options.headers },
      agent: false,
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', (error) =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          error,
        }),
      );
      res.on('aborted', () => undefined);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Waits until a log line matching `predicate` appears, for events that follow the client's response. */
export async function waitForLog(
  agent: TestAgent,
  predicate: (line: LogLine) => boolean,
  timeoutMs = 5000,
): Promise<LogLine> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = agent.logs.find(predicate);
    if (line !== undefined) return line;
    if (Date.now() > deadline) throw new Error(`no matching log line within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** JSON body of a Fender error response. */
export function errorBody(response: ProxyResponse): {
  error: string;
  message: string;
  host: string;
  requestId: string;
} {
  return JSON.parse(response.body.toString('utf8')) as {
    error: string;
    message: string;
    host: string;
    requestId: string;
  };
}

import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  EPHEMERAL_LISTENERS,
  errorBody,
  send,
  startTestAgent,
  waitForLog,
  type TestAgent,
} from '../helpers/agent.ts';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.ts';

let agent: TestAgent | undefined;
let upstream: FakeUpstream | undefined;

afterEach(async () => {
  await agent?.close();
  await upstream?.close();
  agent = undefined;
  upstream = undefined;
});

function config(origin: string, extra = ''): string {
  return `${EPHEMERAL_LISTENERS}
defaults:
  retry: { retries: 0 }
hosts:
  api.test:
    upstream: ${origin}
  "*.wild.test":
    upstream: ${origin}
  deep.wild.test:
    upstream: ${origin}
    timeouts: { read: 7s }
${extra}`;
}

describe('egress forwarding', () => {
  it('forwards the origin form with Host', async () => {
    upstream = await startUpstream((_req, res) => res.end('hello'));
    agent = await startTestAgent(config(upstream.origin));

    const response = await send(agent, 'api.test', '/v1/items?page=2&sig=abc');

    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe('hello');
    expect(upstream.received[0]?.url).toBe('/v1/items?page=2&sig=abc');
    expect(response.headers['x-fender-attempts']).toBe('1');
  });

  it('drops a fragment from the target', async () => {
    upstream = await startUpstream((_req, res) => res.end());
    agent = await startTestAgent(config(upstream.origin));

    await send(agent, 'api.test', '/doc?x=1#section-2');

    expect(upstream.received[0]?.url).toBe('/doc?x=1');
  });

  it('finds breakers by the spellings the proxy accepts', async () => {
    upstream = await startUpstream((_req, res) => res.end());
    agent = await startTestAgent(config(upstream.origin));

    expect(agent.agent.getBreaker('api.test:80')?.host).toBe('api.test');
    expect(agent.agent.getBreaker('API.test.')?.host).toBe('api.test');
    expect(agent.agent.getBreaker('other.test')).toBeUndefined();
  });

  it('forwards the absolute form sent through HTTP_PROXY', async () => {
    upstream = await startUpstream((_req, res) => res.end('via proxy'));
    agent = await startTestAgent(config(upstream.origin));

    const response = await send(agent, 'api.test', '/path?q=1', { form: 'absolute' });

    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe('via proxy');
    expect(upstream.received[0]?.url).toBe('/path?q=1');
  });

  it('sets the upstream Host and passes trace context', async () => {
    upstream = await startUpstream((_req, res) => res.end());
    agent = await startTestAgent(config(upstream.origin));
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

    await send(agent, 'api.test', '/', { headers: { traceparent, tracestate: 'a=b' } });

    expect(upstream.received[0]?.headers.host).toBe(`127.0.0.1:${upstream.port}`);
    expect(upstream.received[0]?.headers.traceparent).toBe(traceparent);
    expect(upstream.received[0]?.headers.tracestate).toBe('a=b');
  });

  it('keeps a well-formed x-request-id end to end', async () => {
    upstream = await startUpstream((_req, res) => res.end());
    agent = await startTestAgent(config(upstream.origin));

    const response = await send(agent, 'api.test', '/', {
      headers: { 'x-request-id': 'order-42.a:b' },
    });

    expect(response.headers['x-request-id']).toBe('order-42.a:b');
    expect(upstream.received[0]?.headers['x-request-id']).toBe('order-42.a:b');
    const line = agent.logs.find((l) => l.msg === 'request');
    expect(line?.['requestId']).toBe('order-42.a:b');
  });

  it('replaces a malformed x-request-id with a UUID', async () => {
    upstream = await startUpstream((_req, res) => res.end());
    agent = await startTestAgent(config(upstream.origin));

    const response = await send(agent, 'api.test', '/', {
      headers: { 'x-request-id': 'bad id with spaces' },
    });

    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(upstream.received[0]?.headers['x-request-id']).toBe(response.headers['x-request-id']);
  });

  it('rejects an unknown host with 403 unknown_host', async () => {
    upstream = await startUpstream((_req, res) => res.end());
    agent = await startTestAgent(config(upstream.origin));

    const response = await send(agent, 'other.test', '/');

    expect(response.status).toBe(403);
    expect(response.headers['x-fender-error']).toBe('unknown_host');
    const body = errorBody(response);
    expect(body.error).toBe('unknown_host');
    expect(body.host).toBe('other.test');
    expect(body.requestId).toBe(response.headers['x-request-id']);
    expect(upstream.received).toHaveLength(0);
  });

  it('routes wildcard hosts, the most specific key first', async () => {
    upstream = await startUpstream((_req, res) => res.end());
    agent = await startTestAgent(config(upstream.origin));

    expect((await send(agent, 'a.wild.test', '/')).status).toBe(200);
    expect((await send(agent, 'x.y.wild.test', '/')).status).toBe(200);
    expect((await send(agent, 'wild.test', '/')).status).toBe(403);

    const keys = agent.logs.filter((l) => l.msg === 'request').map((l) => l['hostKey']);
    expect(keys).toEqual(['*.wild.test', '*.wild.test', '_unknown']);
  });

  it('answers a malformed request target with 400', async () => {
    upstream = await startUpstream((_req, res) => res.end());
    agent = await startTestAgent(config(upstream.origin));

    const response = await send(agent, 'bad host!', '/');

    expect(response.status).toBe(400);
    expect(response.headers['x-fender-error']).toBe('bad_request');
  });

  it('refuses CONNECT tunnels with a JSON error', async () => {
    upstream = await startUpstream((_req, res) => res.end());
    agent = await startTestAgent(config(upstream.origin));

    const raw = await rawExchange(
      agent.ports.egress,
      'CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443\r\n\r\n',
    );

    expect(raw).toMatch(/^HTTP\/1\.1 405/);
    expect(raw).toContain('"error":"method_not_allowed"');
  });
});

describe('hop-by-hop headers', () => {
  it('strips them in both directions', async () => {
    upstream = await startUpstream((_req, res) => {
      res.writeHead(200, {
        Connection: 'X-Debug',
        'X-Debug': '1',
        'Keep-Alive': 'timeout=1',
        'X-Kept': 'yes',
      });
      res.end('ok');
    });
    agent = await startTestAgent(config(upstream.origin));

    const response = await send(agent, 'api.test', '/', {
      headers: {
        Connection: 'keep-alive, X-Internal-Token',
        'X-Internal-Token': 's3cret',
        'Keep-Alive': 'timeout=999',
        TE: 'trailers',
        'Proxy-Authorization': 'Basic eA==',
        'X-Other': 'kept',
      },
    });

    const seen = upstream.received[0]?.headers ?? {};
    expect(seen['x-internal-token']).toBeUndefined();
    expect(seen['keep-alive']).toBeUndefined();
    expect(seen['proxy-authorization']).toBeUndefined();
    expect(seen['te']).toBeUndefined();
    expect(seen.connection).not.toContain('X-Internal-Token');
    expect(seen['x-other']).toBe('kept');
    expect(response.headers['x-debug']).toBeUndefined();
    // Fender's own connection to the client may carry Keep-Alive, never the upstream's.
    expect(response.headers['keep-alive']).not.toBe('timeout=1');
    expect(response.headers['x-kept']).toBe('yes');
  });
});

describe('bodies', () => {
  it('sends a request body byte for byte', async () => {
    upstream = await startUpstream((_req, res, body) => res.end(String(body.length)));
    agent = await startTestAgent(config(upstream.origin));
    const payload = randomBytes(300 * 1024);

    const response = await send(agent, 'api.test', '/upload', { method: 'POST', body: payload });

    expect(response.status).toBe(200);
    expect(upstream.received[0]?.body.equals(payload)).toBe(true);
  });

  it('streams a request body over the replay limit', async () => {
    upstream = await startUpstream((_req, res) => res.end());
    agent = await startTestAgent(config(upstream.origin));
    const payload = randomBytes(3 * 1024 * 1024);

    const response = await send(agent, 'api.test', '/big', { method: 'PUT', body: payload });

    expect(response.status).toBe(200);
    expect(upstream.received[0]?.body.equals(payload)).toBe(true);
  });

  it('streams a response body byte for byte', async () => {
    const payload = randomBytes(2 * 1024 * 1024 + 17);
    upstream = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      for (let i = 0; i < payload.length; i += 65536) res.write(payload.subarray(i, i + 65536));
      res.end();
    });
    agent = await startTestAgent(config(upstream.origin));

    const response = await send(agent, 'api.test', '/download');

    expect(response.body.equals(payload)).toBe(true);
  });

  it('keeps compressed bodies as they are', async () => {
    const gzipped = Buffer.from('1f8b0800000000000003cb48cdc9c90700865a4a3905000000', 'hex');
    upstream = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': gzipped.length });
      res.end(gzipped);
    });
    agent = await startTestAgent(config(upstream.origin));

    const response = await send(agent, 'api.test', '/', { headers: { 'accept-encoding': 'gzip' } });

    expect(response.headers['content-encoding']).toBe('gzip');
    expect(response.body.equals(gzipped)).toBe(true);
  });

  it('sends no body for HEAD, 204 and 304', async () => {
    upstream = await startUpstream((req, res) => {
      if (req.url === '/204') res.writeHead(204).end();
      else if (req.url === '/304') res.writeHead(304, { etag: '"v1"' }).end();
      else
        res
          .writeHead(200, { 'content-length': 5 })
          .end(req.method === 'HEAD' ? undefined : 'hello');
    });
    agent = await startTestAgent(config(upstream.origin));

    const head = await send(agent, 'api.test', '/', { method: 'HEAD' });
    const noContent = await send(agent, 'api.test', '/204');
    const notModified = await send(agent, 'api.test', '/304', {
      headers: { 'if-none-match': '"v1"' },
    });

    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('5');
    expect(head.body.length).toBe(0);
    expect(noContent.status).toBe(204);
    expect(noContent.body.length).toBe(0);
    expect(notModified.status).toBe(304);
    expect(notModified.headers.etag).toBe('"v1"');
    expect(notModified.body.length).toBe(0);
  });

  it('answers Expect: 100-continue before reading the body', async () => {
    upstream = await startUpstream((_req, res, body) => res.end(body));
    agent = await startTestAgent(config(upstream.origin));

    const raw = await rawExchange(
      agent.ports.egress,
      'POST /echo HTTP/1.1\r\nHost: api.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n',
      (text, socket) => {
        if (text.startsWith('HTTP/1.1 100')) socket.write('hello');
      },
    );

    expect(raw).toMatch(/^HTTP\/1\.1 100 Continue/);
    expect(raw).toMatch(/HTTP\/1\.1 200 OK[\s\S]*hello$/);
    expect(upstream.received[0]?.headers.expect).toBeUndefined();
  });

  it('rejects a declared body over maxRequestBytes with 413 before reading it', async () => {
    upstream = await startUpstream((_req, res) => res.end());
    agent = await startTestAgent(`${EPHEMERAL_LISTENERS}
hosts:
  api.test:
    upstream: ${upstream.origin}
    limits: { maxRequestBytes: 1KiB }
`);

    const raw = await rawExchange(
      agent.ports.egress,
      'POST / HTTP/1.1\r\nHost: api.test\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n',
    );

    expect(raw).toMatch(/^HTTP\/1\.1 413/);
    expect(raw).toContain('"error":"request_too_large"');
    expect(upstream.received).toHaveLength(0);
  });

  it('rejects a chunked body that grows over maxRequestBytes with 413', async () => {
    upstream = await startUpstream((_req, res) => res.end());
    const yaml = `${EPHEMERAL_LISTENERS}
hosts:
  api.test:
    upstream: ${upstream.origin}
    limits: { maxRequestBytes: 4KiB }
`;
    agent = await startTestAgent(yaml);

    const response = await send(agent, 'api.test', '/', {
      method: 'POST',
      headers: { 'transfer-encoding': 'chunked' },
      body: randomBytes(10 * 1024),
    });

    expect(response.status).toBe(413);
    expect(upstream.received).toHaveLength(0);
  });

  it('ends a stalled upload at the deadline and frees its slot', async () => {
    upstream = await startUpstream((_req, res) => res.end('ok'));
    agent = await startTestAgent(`${EPHEMERAL_LISTENERS}
defaults:
  timeouts: { total: 500ms }
hosts:
  api.test:
    upstream: ${upstream.origin}
    limits: { maxInFlight: 1 }
`);

    const raw = await rawExchange(
      agent.ports.egress,
      'POST / HTTP/1.1\r\nHost: api.test\r\nContent-Length: 100\r\n\r\nonly ten b',
    );

    expect(raw).toMatch(/^HTTP\/1\.1 408/);
    expect(raw).toContain('"error":"request_timeout"');
    expect((await send(agent, 'api.test', '/')).status).toBe(200);
    expect(agent.agent.activity().inFlight).toBe(0);
  });

  it('answers a streamed body over the limit with 413, not against the upstream', async () => {
    upstream = await startUpstream((_req, res) => res.end());
    agent = await startTestAgent(`${EPHEMERAL_LISTENERS}
hosts:
  api.test:
    upstream: ${upstream.origin}
    limits: { maxRequestBytes: 2MiB }
`);

    const response = await send(agent, 'api.test', '/', {
      method: 'POST',
      headers: { 'transfer-encoding': 'chunked' },
      body: randomBytes(3 * 1024 * 1024),
    });

    expect(response.status).toBe(413);
    expect(agent.agent.getBreaker('api.test')?.failures).toBe(0);
  });

  it('answers oversized request headers with 431', async () => {
    upstream = await startUpstream((_req, res) => res.end());
    agent = await startTestAgent(config(upstream.origin));

    const raw = await rawExchange(
      agent.ports.egress,
      `GET / HTTP/1.1\r\nHost: api.test\r\nX-Big: ${'a'.repeat(40 * 1024)}\r\n\r\n`,
    );

    expect(raw).toMatch(/^HTTP\/1\.1 431/);
    expect(raw).toContain('"error":"headers_too_large"');
  });
});

/** Writes raw bytes to a port and collects what comes back until the socket closes. */
function rawExchange(
  port: number,
  request: string,
  onData?: (text: string, socket: ReturnType<typeof connect>) => void,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(text);
    }, 3000);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      onData?.(text, socket);
      if (/\r\n\r\n[\s\S]*\}$/.test(text) && !text.startsWith('HTTP/1.1 100')) {
        clearTimeout(timer);
        socket.destroy();
        resolve(text);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    socket.write(request);
  });
}

describe('faults and logs', () => {
  it('answers garbage on the wire with 400', async () => {
    upstream = await startUpstream((_req, res) => res.end());
    agent = await startTestAgent(config(upstream.origin));

    const raw = await rawExchange(agent.ports.egress, 'NOT HTTP AT ALL\r\n\r\n');

    expect(raw).toMatch(/^HTTP\/1\.1 400/);
    expect(raw).toContain('"error":"bad_request"');
  });

  it('survives clients that leave mid-response', async () => {
    upstream = await startUpstream((req, res) => {
      if (req.url === '/slow') {
        res.writeHead(200);
        res.write('partial');
        setTimeout(() => res.end('rest'), 300);
      } else {
        res.end('fine');
      }
    });
    agent = await startTestAgent(config(upstream.origin));

    for (let i = 0; i < 5; i++) {
      await rawExchange(
        agent.ports.egress,
        'GET /slow HTTP/1.1\r\nHost: api.test\r\n\r\n',
        (text, socket) => {
          if (text.includes('partial')) socket.destroy();
        },
      );
    }
    await rawExchange(
      agent.ports.egress,
      'GET /slow HTTP/1.1\r\nHost: api.test\r\n\r\n',
      (_text, socket) => socket.destroy(),
    );

    const response = await send(agent, 'api.test', '/after');
    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe('fine');
    const line = await waitForLog(agent, (l) => l.msg === 'request' && l['path'] === '/slow');
    expect(line['detail']).toBe('the client closed the connection');
  });

  it('settles every request when clients vanish', async () => {
    upstream = await startUpstream((_req, res, _body, index) => {
      if (index % 3 === 0) setTimeout(() => res.end('slow'), 20);
      else res.end('fast');
    });
    agent = await startTestAgent(config(upstream.origin));
    const running = agent;

    await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const socket = connect(running.ports.egress, '127.0.0.1');
        socket.on('error', () => {});
        socket.write('GET /x HTTP/1.1\r\nHost: api.test\r\n\r\n');
        await new Promise((resolve) => setTimeout(resolve, i % 7));
        socket.destroy();
      }),
    );

    const deadline = Date.now() + 3000;
    while (running.agent.activity().inFlight > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(running.agent.activity().inFlight).toBe(0);
    expect(running.agent.chain.inFlight).toBe(0);
    expect((await send(running, 'api.test', '/after')).status).toBe(200);
  });

  it('logs a client that leaves before the response as 499', async () => {
    upstream = await startUpstream((_req, res) => setTimeout(() => res.end('late'), 300));
    agent = await startTestAgent(config(upstream.origin));

    const socket = connect(agent.ports.egress, '127.0.0.1');
    socket.write('GET /wait HTTP/1.1\r\nHost: api.test\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.destroy();

    const line = await waitForLog(agent, (l) => l.msg === 'request' && l['status'] === 499);
    expect(line['error']).toBe('client_closed');
    expect(agent.agent.getBreaker('api.test')?.failures).toBe(0);
  });

  it('logs one line per request without query strings or credentials', async () => {
    upstream = await startUpstream((_req, res) =>
      res.writeHead(200, { 'set-cookie': 'session=s3cr3t' }).end(),
    );
    agent = await startTestAgent(config(upstream.origin));

    await send(agent, 'api.test', '/v1/users?token=abc123', {
      headers: { authorization: 'Bearer topsecret', cookie: 'sid=hidden' },
    });

    const lines = agent.logs.filter((l) => l.msg === 'request');
    expect(lines).toHaveLength(1);
    const line = lines[0] as Record<string, unknown>;
    expect(line['path']).toBe('/v1/users');
    expect(line['method']).toBe('GET');
    expect(line['status']).toBe(200);
    expect(line['attempts']).toBe(1);
    expect(line['host']).toBe('api.test');
    expect(typeof line['durationMs']).toBe('number');
    const text = JSON.stringify(agent.logs);
    for (const secret of ['abc123', 'topsecret', 'hidden', 's3cr3t'])
      expect(text).not.toContain(secret);
  });

  it('redacts credential headers in any logged headers object', async () => {
    agent = await startTestAgent(`${EPHEMERAL_LISTENERS}
log: { level: info, redactHeaders: [x-api-key] }
`);
    const { createLogger } = await import('../../agent/telemetry/log.ts');
    const lines: string[] = [];
    const logger = createLogger({
      level: 'info',
      redactHeaders: ['x-api-key'],
      destination: { write: (line: string) => lines.push(line) },
    });

    logger.info(
      { headers: { authorization: 'Bearer a', 'x-api-key': 'k', accept: '*/*' } },
      'upstream',
    );
    logger.info({ upstream: { headers: { cookie: 'c', 'set-cookie': 's' } } }, 'nested');

    expect(lines.join('')).not.toMatch(/Bearer a|"k"|"c"|"s"/);
    expect(lines[0]).toContain('"accept":"*/*"');
  });
});

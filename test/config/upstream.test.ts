import { describe, expect, it } from 'vitest';

import { parseUpstream } from '../../agent/config/upstream.ts';
import { problemsOf, snapshotOf } from './helpers.ts';

function host(key: string, upstream: string): string {
  return `hosts:\n  "${key}": { upstream: "${upstream}" }\n`;
}

describe('parseUpstream', () => {
  it.each([
    ['https://api.example.com', false, 'https://api.example.com', 443],
    ['https://api.example.com/', false, 'https://api.example.com', 443],
    ['http://API.example.com:8080', false, 'http://api.example.com:8080', 8080],
    ['http://127.0.0.1:9000', false, 'http://127.0.0.1:9000', 9000],
    ['http://[::1]:9000', false, 'http://[::1]:9000', 9000],
    ['https://{host}', true, 'https://{host}', 443],
    ['http://{host}:8443', true, 'http://{host}:8443', 8443],
    ['https://{host}.mesh.internal', true, 'https://{host}.mesh.internal', 443],
  ])('accepts %s', (raw, wildcard, origin, port) => {
    expect(parseUpstream(raw, wildcard)).toEqual({
      ok: true,
      value: expect.objectContaining({ origin, port }),
    });
  });

  it.each([
    [
      'api.example.com',
      false,
      'expected an http:// or https:// origin such as https://api.example.com, got "api.example.com"',
    ],
    [
      'ftp://api.example.com',
      false,
      'expected an http:// or https:// origin such as https://api.example.com, got "ftp://api.example.com"',
    ],
    [
      'https://api.example.com/v1',
      false,
      'expected an origin without path, query or fragment (https://api.example.com), got "https://api.example.com/v1"',
    ],
    ['https://api.example.com?x=1', false, 'expected an origin without path, query or fragment'],
    ['https://api.example.com/#top', false, 'expected an origin without path, query or fragment'],
    [
      'https://user:secret@api.example.com',
      false,
      'credentials in the upstream URL are not allowed; send them in request headers',
    ],
    [
      'https://{host}',
      false,
      '{host} is allowed only in the upstream of a wildcard key (*.example.com)',
    ],
    ['https://{host}.{host}', true, '{host} may appear only once'],
    ['https://api.example.com:{host}', true, 'expected an http:// or https:// origin'],
    ['https://x{host}', true, '{host} may stand only for the host name'],
    ['https://api.example.com/{host}', true, 'expected an origin without path, query or fragment'],
    ['https://{hostname}', true, 'the only placeholder is {host}'],
    ['http://127.0.0.1:0', false, 'port 0 cannot be connected to, got "http://127.0.0.1:0"'],
  ])('rejects %s', (raw, wildcard, message) => {
    const result = parseUpstream(raw, wildcard);
    if (result.ok) throw new Error(`${raw} was accepted as ${result.value.origin}`);

    expect(result.message).toContain(message);
  });

  it('does not echo credentials', () => {
    const result = parseUpstream('https://user:secret@api.example.com', false);
    if (result.ok) throw new Error('credentials were accepted');

    expect(result.message).not.toContain('secret');
  });
});

describe('upstreams in a file', () => {
  it('names the host key and stores the normalised origin', () => {
    const snapshot = snapshotOf(host('api.example.com', 'HTTPS://API.Example.com:443/'));

    expect(snapshot.hosts.get('api.example.com')?.upstream).toBe('https://api.example.com');
  });

  it('reports the problem at the upstream path', () => {
    expect(problemsOf(host('api.example.com', 'https://{host}'))).toEqual([
      'hosts."api.example.com".upstream: {host} is allowed only in the upstream of a wildcard key (*.example.com)',
    ]);
  });

  it('allows loopback upstreams on other ports', () => {
    const snapshot = snapshotOf(host('local.test', 'http://127.0.0.1:9000'));

    expect(snapshot.hosts.get('local.test')?.upstream).toBe('http://127.0.0.1:9000');
  });
});

describe('own-listener loops', () => {
  it.each([
    [
      'http://127.0.0.1:7700',
      'egress',
      '127.0.0.1:7700',
      'requests would loop back into the proxy',
    ],
    [
      'http://localhost:7700',
      'egress',
      '127.0.0.1:7700',
      'requests would loop back into the proxy',
    ],
    [
      'http://[::1]:7701',
      'control',
      '127.0.0.1:7701',
      'the application could reach the control API through the proxy',
    ],
    [
      'http://0.0.0.0:7701',
      'control',
      '127.0.0.1:7701',
      'the application could reach the control API through the proxy',
    ],
    [
      'http://[::ffff:127.0.0.1]:7702',
      'metrics',
      '0.0.0.0:7702',
      'Fender never forwards to its own listeners',
    ],
    [
      'http://127.0.0.2:7702',
      'metrics',
      '0.0.0.0:7702',
      'Fender never forwards to its own listeners',
    ],
  ])('rejects %s', (upstream, listener, address, reason) => {
    const origin = new URL(upstream).origin;

    expect(problemsOf(host('api.example.com', upstream))).toEqual([
      `hosts."api.example.com".upstream: ${origin} is Fender's own ${listener} listener (${address}): ${reason}; point upstream at the service itself`,
    ]);
  });

  it('uses the configured ports, default ports included', () => {
    const listeners = 'listeners:\n  egress: { port: 80 }\n';

    expect(problemsOf(`${listeners}${host('api.example.com', 'http://localhost')}`)).toEqual([
      `hosts."api.example.com".upstream: http://localhost is Fender's own egress listener (127.0.0.1:80): requests would loop back into the proxy; point upstream at the service itself`,
    ]);
    expect(
      snapshotOf(`${listeners}${host('api.example.com', 'http://localhost:7700')}`).hosts.size,
    ).toBe(1);
  });

  it('counts the webhooks listener only when webhooks are configured', () => {
    expect(snapshotOf(host('api.example.com', 'http://127.0.0.1:7703')).hosts.size).toBe(1);
  });

  it('checks a templated upstream under a localhost wildcard', () => {
    expect(problemsOf(host('*.localhost', 'http://{host}:7700'))[0]).toContain(
      "is Fender's own egress listener",
    );
  });

  it('matches a listener bound to a specific address', () => {
    const file = `listeners:\n  metrics: { host: 10.1.2.3, port: 9090 }\n${host('api.example.com', 'http://10.1.2.3:9090')}`;

    expect(problemsOf(file)[0]).toContain("is Fender's own metrics listener (10.1.2.3:9090)");
  });

  it('skips listeners on port 0, which get a free port at start', () => {
    const file = `listeners:\n  egress: { port: 0 }\n${host('api.example.com', 'http://127.0.0.1:7700')}`;

    expect(snapshotOf(file).hosts.get('api.example.com')?.upstream).toBe('http://127.0.0.1:7700');
  });
});

describe('listeners', () => {
  it('rejects two listeners on one port', () => {
    expect(problemsOf('listeners:\n  metrics: { host: 127.0.0.1, port: 7701 }\n')).toEqual([
      'listeners.metrics.port: port 7701 is already used by listeners.control (127.0.0.1:7701); choose another port',
    ]);
  });

  it('treats 0.0.0.0 as overlapping every address', () => {
    expect(problemsOf('listeners:\n  metrics: { port: 7700 }\n')).toEqual([
      'listeners.metrics.port: port 7700 is already used by listeners.egress (127.0.0.1:7700); choose another port',
    ]);
  });

  it('treats localhost as a loopback address', () => {
    const file =
      'listeners:\n  egress: { host: localhost }\n  metrics: { host: 127.0.0.1, port: 7700 }\n';

    expect(problemsOf(file)).toEqual([
      'listeners.metrics.port: port 7700 is already used by listeners.egress (localhost:7700); choose another port',
    ]);
  });

  it('allows one port on two distinct addresses', () => {
    const file =
      'listeners:\n  egress: { host: 127.0.0.1, port: 9000 }\n  metrics: { host: 127.0.0.2, port: 9000 }\n';

    expect(snapshotOf(file).listeners.metrics).toEqual({ host: '127.0.0.2', port: 9000 });
  });

  it('requires a token for a control API beyond loopback', () => {
    expect(problemsOf('listeners:\n  control: { host: 0.0.0.0 }\n')).toEqual([
      'listeners.control.host: 0.0.0.0 exposes the control API beyond loopback without authentication; set listeners.control.tokenFile or bind 127.0.0.1',
    ]);
  });
});

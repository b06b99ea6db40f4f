import { describe, expect, it } from 'vitest';

import { parseHostKey } from '../../agent/config/host-key.ts';
import { problemsOf, snapshotOf } from './helpers.ts';

describe('parseHostKey', () => {
  it.each([
    ['api.example.com', 'api.example.com', false],
    ['API.Example.COM', 'api.example.com', false],
    ['api.example.com:8443', 'api.example.com:8443', false],
    ['*.example.com', '*.example.com', true],
    ['*.Payments.Example.com:8080', '*.payments.example.com:8080', true],
    ['localhost', 'localhost', false],
    ['10.0.0.5', '10.0.0.5', false],
    ['10.0.0.5:80', '10.0.0.5', false],
    ['*.example.com:80', '*.example.com', true],
    ['[2001:DB8:0::1]', '[2001:db8::1]', false],
    ['[::1]:8080', '[::1]:8080', false],
    ['bücher.example', 'xn--bcher-kva.example', false],
    ['_srv.example.com', '_srv.example.com', false],
  ])('accepts %s as %s', (raw, key, wildcard) => {
    const result = parseHostKey(raw);

    expect(result).toMatchObject({ ok: true, value: { key, wildcard } });
  });

  it.each([
    ['', 'expected a host name'],
    ['*', 'expected a host name'],
    ['*.*.example.com', 'expected a host name'],
    ['api.*.example.com', 'expected a host name'],
    ['*example.com', 'expected a host name'],
    ['api.example.com.', 'without the trailing dot'],
    ['api.example.com:0', 'port 0 is outside 1-65535'],
    ['api.example.com:70000', 'port 70000 is outside 1-65535'],
    ['api example.com', 'expected a host name'],
    ['-api.example.com', 'expected a host name'],
    ['https://api.example.com', 'expected a host name'],
    ['api.example.com/v1', 'expected a host name'],
    ['[zz::1]', '[zz::1] is not an IPv6 address'],
    ['::1', 'expected a host name'],
    ['*.10.0.0.1', 'a wildcard cannot precede an IP address'],
    ['1.2.3.400', 'neither a host name nor a dotted IPv4 address'],
  ])('rejects %j', (raw, reason) => {
    const result = parseHostKey(raw);
    if (result.ok) throw new Error(`${raw} was accepted as ${result.value.key}`);

    expect(result.message).toContain(`invalid host key ${JSON.stringify(raw)}`);
    expect(result.message).toContain(reason);
  });
});

describe('hosts keys in a file', () => {
  it('stores hosts under normalised keys', () => {
    const snapshot = snapshotOf(`
hosts:
  "API.example.com:8443": { upstream: "https://api.example.com:8443" }
  "*.Payments.example.com": { upstream: "https://{host}" }
  "[2001:DB8::1]": { upstream: "http://[2001:db8::1]:8080" }
`);

    expect([...snapshot.hosts.keys()]).toEqual([
      'api.example.com:8443',
      '*.payments.example.com',
      '[2001:db8::1]',
    ]);
    expect(snapshot.hosts.get('*.payments.example.com')?.key).toBe('*.payments.example.com');
    expect(snapshot.hosts.get('*.payments.example.com')?.upstream).toBe('https://{host}');
    expect(snapshot.hosts.get('[2001:db8::1]')?.upstream).toBe('http://[2001:db8::1]:8080');
  });

  it('names an invalid key in its problem', () => {
    expect(problemsOf('hosts:\n  "bad key!": { upstream: "https://x.example.com" }\n')).toEqual([
      'hosts."bad key!": invalid host key "bad key!": expected a host name (api.example.com), optionally with a port (api.example.com:8443), a leading wildcard (*.example.com) or an IPv6 address in brackets ([2001:db8::1])',
    ]);
  });

  it('treats port 80 as the default', () => {
    const problems = problemsOf(`
hosts:
  api.example.com: { upstream: "https://api.example.com" }
  "api.example.com:80": { upstream: "https://api.example.com" }
`);

    expect(problems).toEqual([
      'hosts."api.example.com:80": same host as "api.example.com" (keys are compared as api.example.com); merge the two entries',
    ]);
  });

  it('rejects two keys for the same host', () => {
    const problems = problemsOf(`
hosts:
  api.example.com: { upstream: "https://api.example.com" }
  API.Example.com: { upstream: "https://api.example.com" }
`);

    expect(problems).toEqual([
      'hosts."API.Example.com": same host as "api.example.com" (keys are compared as api.example.com); merge the two entries',
    ]);
  });
});

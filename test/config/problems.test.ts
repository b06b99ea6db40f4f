import { describe, expect, it } from 'vitest';

import { formatPath, formatProblem } from '../../agent/config/problems.ts';
import { ONE_HOST, problemsOf, snapshotOf } from './helpers.ts';

/** Returns a config whose api.example.com host sets `retry:` to the given flow mapping. */
function hostRetry(retry: string): string {
  return `${ONE_HOST}    retry: ${retry}\n`;
}

describe('formatPath', () => {
  it('quotes keys that are not identifiers and brackets indexes', () => {
    expect(formatPath(['hosts', 'api.example.com', 'retry', 'retries'])).toBe(
      'hosts."api.example.com".retry.retries',
    );
    expect(formatPath(['hosts', '*.example.com', 'cache', 'rules', 0, 'ttl'])).toBe(
      'hosts."*.example.com".cache.rules[0].ttl',
    );
    expect(formatPath([])).toBe('(file)');
  });

  it('formats a problem as path, colon, message', () => {
    expect(formatProblem({ path: 'log.level', message: 'expected x, got y' })).toBe(
      'log.level: expected x, got y',
    );
  });
});

describe('range messages', () => {
  it('pins the contract example', () => {
    expect(problemsOf(hostRetry('{ retries: three }'))).toEqual([
      'hosts."api.example.com".retry.retries: expected a whole number from 0 to 10, got "three"',
    ]);
  });

  it.each([
    [
      'retry: { retries: 11 }',
      'defaults.retry.retries: expected a whole number from 0 to 10, got 11',
    ],
    [
      'retry: { retries: 1.5 }',
      'defaults.retry.retries: expected a whole number from 0 to 10, got 1.5',
    ],
    [
      'retry: { retries: .inf }',
      'defaults.retry.retries: expected a whole number from 0 to 10, got Infinity',
    ],
    [
      'retry: { budget: { ratio: 1.5 } }',
      'defaults.retry.budget.ratio: expected a number from 0 to 1, got 1.5',
    ],
    [
      'retry: { budget: { minPerSecond: -1 } }',
      'defaults.retry.budget.minPerSecond: expected a number of at least 0, got -1',
    ],
    [
      'breaker: { failures: 0 }',
      'defaults.breaker.failures: expected a whole number of at least 1, got 0',
    ],
    [
      'breaker: { halfOpenRequests: 0 }',
      'defaults.breaker.halfOpenRequests: expected a whole number of at least 1, got 0',
    ],
    [
      'timeouts: { connect: 0s }',
      'defaults.timeouts.connect: expected a duration greater than 0 (250ms, 5s, 1m), got "0s"',
    ],
    [
      'timeouts: { read: 30 }',
      'defaults.timeouts.read: expected a duration with a unit (250ms, 5s, 1m, 1h, 7d), got 30',
    ],
    [
      'timeouts: { total: 30d }',
      'defaults.timeouts.total: expected a duration of at most 24d, got "30d"',
    ],
    [
      'limits: { maxRequestBytes: 10 MB }',
      'defaults.limits.maxRequestBytes: expected a size: a whole number of bytes or a number with a unit (512B, 10KiB, 64MiB, 1GiB, 10MB), got "10 MB"',
    ],
    [
      'limits: { maxInFlight: 0 }',
      'defaults.limits.maxInFlight: expected a whole number of at least 1, got 0',
    ],
    [
      'retry: { backoff: { jitter: half } }',
      'defaults.retry.backoff.jitter: expected "full", "equal" or "none", got "half"',
    ],
    [
      'breaker: { mode: shadows }',
      'defaults.breaker.mode: expected "enforce" or "shadow", got "shadows" (did you mean "shadow"?)',
    ],
    ['cache: { enabled: yes }', 'defaults.cache.enabled: expected true or false, got "yes"'],
    [
      'retry: { methods: ["GET", "BAD METHOD"] }',
      'defaults.retry.methods[1]: expected an HTTP method name (GET, POST, …), got "BAD METHOD"',
    ],
    ['retry: { retryOn: 5xx }', 'defaults.retry.retryOn: expected a list, got "5xx"'],
  ])('reports %s', (defaults, expected) => {
    expect(problemsOf(`defaults:\n  ${defaults}\n`)).toEqual([expected]);
  });

  it.each([
    [
      'listeners: { egress: { port: 70000 } }',
      'listeners.egress.port: expected a whole number from 0 to 65535 (0 picks a free port), got 70000',
    ],
    [
      'listeners: { egress: { host: "[::1]" } }',
      'listeners.egress.host: write IPv6 addresses without brackets, got "[::1]"',
    ],
    ['unknownHosts: allow', 'unknownHosts: expected "reject" or "passthrough", got "allow"'],
    ['hosts: null', 'hosts: expected a mapping, got null'],
    [
      'cache: { maxEntries: -5 }',
      'cache.maxEntries: expected a whole number of at least 1, got -5',
    ],
    [
      'lifecycle: { drainIdle: 2 }',
      'lifecycle.drainIdle: expected a duration with a unit (250ms, 5s, 1m, 1h, 7d), got 2',
    ],
    [
      'log: { redactHeaders: ["x api key"] }',
      'log.redactHeaders[0]: expected an HTTP header name (x-api-key), got "x api key"',
    ],
  ])('reports %s', (file, expected) => {
    expect(problemsOf(`${file}\n`)).toEqual([expected]);
  });

  it('accepts port 0 for every listener', () => {
    const snapshot = snapshotOf(
      'listeners:\n  egress: { port: 0 }\n  control: { port: 0 }\n  metrics: { port: 0 }\n',
    );

    expect(snapshot.listeners.egress.port).toBe(0);
    expect(snapshot.listeners.control.port).toBe(0);
  });
});

describe('retryOn and failOn', () => {
  it('compiles classes and status codes given as numbers or strings', () => {
    const snapshot = snapshotOf(
      hostRetry('{ retryOn: [gateway-error, connect-failure, 429, "503"] }'),
    );
    const retryOn = snapshot.hosts.get('api.example.com')!.retry.retryOn;

    expect(retryOn).toEqual({
      any5xx: false,
      gatewayError: true,
      connectFailure: true,
      reset: false,
      timeout: false,
      statuses: new Set([429, 503]),
    });
  });

  it('rejects unknown classes with a hint and codes outside 100-599', () => {
    const problems = problemsOf(
      'defaults:\n  breaker: { failOn: [5xx, connect_failure, 700, "99"] }\n',
    );
    const expected =
      'expected 5xx, gateway-error, connect-failure, reset, timeout or a status code from 100 to 599';

    expect(problems).toEqual([
      `defaults.breaker.failOn[1]: ${expected}, got "connect_failure" (did you mean "connect-failure"?)`,
      `defaults.breaker.failOn[2]: ${expected}, got 700`,
      `defaults.breaker.failOn[3]: ${expected}, got "99"`,
    ]);
  });

  it('upper-cases methods', () => {
    const snapshot = snapshotOf(hostRetry('{ methods: [get, Post] }'));

    expect([...snapshot.hosts.get('api.example.com')!.retry.methods]).toEqual(['GET', 'POST']);
  });
});

describe('unknown keys', () => {
  it('hints at a near miss', () => {
    expect(problemsOf(hostRetry('{ retires: 2 }'))).toEqual([
      'hosts."api.example.com".retry.retires: unknown key (did you mean "retries"?)',
    ]);
  });

  it('lists the valid keys when nothing is close', () => {
    expect(problemsOf('log: { colour: true }\n')).toEqual([
      'log.colour: unknown key; valid keys here: level, redactHeaders',
    ]);
  });

  it('reports each unknown key at its own path', () => {
    expect(problemsOf('listener: {}\nhost: {}\n')).toEqual([
      'listener: unknown key (did you mean "listeners"?)',
      'host: unknown key (did you mean "hosts"?)',
    ]);
  });

  it('rejects a misspelt upstream and reports it missing', () => {
    expect(
      problemsOf('hosts:\n  api.example.com: { upsteam: "https://api.example.com" }\n'),
    ).toEqual([
      'hosts."api.example.com".upstream: expected an http:// or https:// origin such as https://api.example.com, missing',
      'hosts."api.example.com".upsteam: unknown key (did you mean "upstream"?)',
    ]);
  });
});

describe('several problems', () => {
  it('reports every problem of every section in one run', () => {
    const problems = problemsOf(`
listeners:
  control: { port: 7700 }
log: { level: loud }
defaults:
  retry: { retries: 20 }
hosts:
  api.example.com:
    upstream: http://127.0.0.1:7701
    breaker: { failures: 0, windw: 10s }
  "*.example.org":
    upstream: https://{host}/v1
`);

    expect(problems).toEqual([
      'log.level: expected "trace", "debug", "info", "warn", "error", "fatal" or "silent", got "loud"',
      'defaults.retry.retries: expected a whole number from 0 to 10, got 20',
      'hosts."api.example.com".breaker.failures: expected a whole number of at least 1, got 0',
      'hosts."api.example.com".breaker.windw: unknown key (did you mean "window"?)',
      'listeners.control.port: port 7700 is already used by listeners.egress (127.0.0.1:7700); choose another port',
      'hosts."*.example.org".upstream: expected an origin without path, query or fragment (https://{host}), got "https://{host}/v1"',
    ]);
  });

  it('checks an upstream even when its host has other problems', () => {
    expect(
      problemsOf('hosts:\n  api.test:\n    upstream: ftp://nope\n    retry: { retries: three }\n'),
    ).toEqual([
      'hosts."api.test".retry.retries: expected a whole number from 0 to 10, got "three"',
      'hosts."api.test".upstream: expected an http:// or https:// origin such as https://api.example.com, got "ftp://nope"',
    ]);
  });

  it('checks loops against the valid listeners', () => {
    const problems = problemsOf(`
listeners:
  control: { prot: 9000 }
hosts:
  api.example.com: { upstream: "http://127.0.0.1:7700" }
`);

    expect(problems).toEqual([
      'listeners.control.prot: unknown key (did you mean "port"?)',
      'hosts."api.example.com".upstream: http://127.0.0.1:7700 is Fender\'s own egress listener (127.0.0.1:7700): requests would loop back into the proxy; point upstream at the service itself',
    ]);
  });

  it('checks merged policies at the path that set them', () => {
    const problems = problemsOf(`
defaults:
  retry: { backoff: { base: 40s } }
hosts:
  api.example.com:
    upstream: https://api.example.com
    retry: { backoff: { max: 500ms } }
  other.example.com:
    upstream: https://other.example.com
`);

    expect(problems).toEqual([
      'defaults.retry.backoff: base (40s) must not exceed max (30s)',
      'hosts."api.example.com".retry.backoff: base (40s) must not exceed max (500ms)',
    ]);
  });

  it('reports a host base above the default max at the host', () => {
    expect(problemsOf(hostRetry('{ backoff: { base: 1m } }'))).toEqual([
      'hosts."api.example.com".retry.backoff: base (1m) must not exceed max (30s)',
    ]);
  });

  it('requires a key file for encrypted cache entries', () => {
    expect(problemsOf(`${ONE_HOST}    cache: { enabled: true, private: encrypt }\n`)).toEqual([
      'hosts."api.example.com".cache.private: "encrypt" needs cache.privateKeyFile (the secret for encrypted entries); set it, or use "bypass"',
    ]);
  });

  it('bounds maxEntryBytes by maxBytes', () => {
    expect(problemsOf('cache: { maxBytes: 1MiB, maxEntryBytes: 2MiB }\n')).toEqual([
      'cache.maxEntryBytes: maxEntryBytes (2MiB) must not exceed maxBytes (1MiB)',
    ]);
  });
});

describe('file syntax', () => {
  it('reports every YAML error with its line and column', () => {
    const problems = problemsOf('log: { level: info\nhosts:\n  a: 1\n  a: 2\n');

    expect(problems).toEqual([
      '(file): line 2, column 1: Flow map in block collection must be sufficiently indented and end with a }',
      '(file): line 4, column 3: Map keys must be unique',
    ]);
  });

  it('explains an unquoted wildcard key', () => {
    const problems = problemsOf('hosts:\n  *.example.com:\n    upstream: https://{host}\n');

    expect(problems[0]).toBe(
      '(file): line 2, column 3: quote the wildcard key ("*.example.com"), because YAML reads an unquoted * as an alias',
    );
    expect(problems.length).toBeGreaterThan(1);
  });

  it('reports a tab used as indentation', () => {
    expect(problemsOf('log:\n\tlevel: info\n')[0]).toMatch(/^\(file\): line 2, column 1: /);
  });

  it('rejects alias bombs', () => {
    const anchors = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let level = 1; level < 9; level++) {
      const name = String.fromCharCode(97 + level);
      const previous = `*${String.fromCharCode(96 + level)}`;
      anchors.push(`${name}: &${name} [${Array(10).fill(previous).join(', ')}]`);
    }

    expect(problemsOf(`${anchors.join('\n')}\n`)).toEqual([
      '(file): cannot expand the YAML aliases: Excessive alias count indicates a resource exhaustion attack',
    ]);
  });

  it('rejects an empty file', () => {
    expect(problemsOf('# nothing here\n')).toEqual([
      '(file): the file is empty; expected a mapping of config keys (listeners, defaults, hosts, …)',
    ]);
  });

  it('rejects a file that is not a mapping', () => {
    expect(problemsOf('- hosts\n')).toEqual([
      '(file): expected a mapping of config keys (listeners, defaults, hosts, …), got a list',
    ]);
  });

  it('rejects several YAML documents', () => {
    expect(problemsOf('log: {}\n---\nhosts: {}\n')).toEqual([
      '(file): line 2, column 1: the file contains more than one YAML document; Fender reads one, so remove the ---',
    ]);
  });

  it('accepts JSON with the same result as YAML', () => {
    const json = JSON.stringify({
      hosts: { 'api.example.com': { upstream: 'https://api.example.com', retry: { retries: 1 } } },
    });
    const fromJson = snapshotOf(json, '/etc/fender/fender.json');
    const fromYaml = snapshotOf(hostRetry('{ retries: 1 }'));

    expect(fromJson.hosts.get('api.example.com')?.hash).toBe(
      fromYaml.hosts.get('api.example.com')?.hash,
    );
    expect(fromJson.hash).not.toBe(fromYaml.hash);
  });

  it('reports JSON syntax errors with position', () => {
    const json = '{\n  "log": {"level": "info"},\n  "hosts": {"a.example.com" {}}\n}\n';

    expect(problemsOf(json, '/etc/fender/fender.json')).toEqual([
      '(file): line 3, column 29: Missing , or : between flow map items',
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../agent/config/load.ts';
import type { HostPolicy } from '../../agent/config/types.ts';
import { HostStates } from '../../agent/hosts.ts';
import { silentTelemetry } from '../../agent/telemetry/events.ts';

function wildcardPolicy(): HostPolicy {
  const result = parseConfig(
    'hosts:\n  "*.shard.test":\n    upstream: http://127.0.0.1:9\n    breaker: { failures: 1 }\n',
    'test.yaml',
  );
  if (!result.ok) throw new Error('invalid test config');

  return result.snapshot.hosts.get('*.shard.test') as HostPolicy;
}

describe('HostStates', () => {
  it('keeps dynamic hosts bounded even with open breakers', () => {
    const policy = wildcardPolicy();
    const states = new HostStates(silentTelemetry, 3);

    for (let i = 0; i < 10; i++) {
      const state = states.get(`h${i}.shard.test`, policy);
      state.breaker.acquire();
      const permit = state.breaker.acquire();
      if (permit.admitted) permit.failure();
    }

    const hosts = [...states.values()].map((state) => state.host);
    expect(hosts).toHaveLength(3);
    expect(hosts).toEqual(['h7.shard.test', 'h8.shard.test', 'h9.shard.test']);
  });

  it('never evicts a host with requests in flight', () => {
    const policy = wildcardPolicy();
    const states = new HostStates(silentTelemetry, 2);
    const busy = states.get('busy.shard.test', policy);
    busy.inFlight = 1;

    for (let i = 0; i < 5; i++) states.get(`h${i}.shard.test`, policy);

    expect(states.peek('busy.shard.test')).toBe(busy);
  });
});

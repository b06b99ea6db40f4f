import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { loadConfigFile } from '../../agent/config/load.ts';
import { formatProblem } from '../../agent/config/problems.ts';

const EXAMPLE = fileURLToPath(new URL('../../k8s/fender.yaml', import.meta.url));

describe('k8s/fender.yaml', () => {
  it('loads without problems', async () => {
    const result = await loadConfigFile(EXAMPLE);
    const problems = result.ok ? [] : result.problems.map(formatProblem);

    expect(problems).toEqual([]);
  });

  it('resolves its hosts as documented', async () => {
    const result = await loadConfigFile(EXAMPLE);
    if (!result.ok) throw new Error('k8s/fender.yaml is invalid');

    const { snapshot } = result;
    const api = snapshot.hosts.get('api.example.com')!;
    const payments = snapshot.hosts.get('*.payments.example.com')!;

    expect(snapshot.hash).toBe(createHash('sha256').update(readFileSync(EXAMPLE)).digest('hex'));
    expect([...snapshot.hosts.keys()]).toEqual(['api.example.com', '*.payments.example.com']);
    expect(api.timeouts).toEqual({ connectMs: 5000, readMs: 10_000, totalMs: 60_000 });
    expect(api.cache).toEqual({
      enabled: true,
      ttlMs: 300_000,
      rules: [{ path: '/v1/countries', ttlMs: 3_600_000 }],
      staleIfErrorMs: 600_000,
      private: 'bypass',
    });
    expect(payments.upstream).toBe('https://{host}');
    expect(payments.retry.retries).toBe(1);
    expect(payments.retry.backoff).toEqual(api.retry.backoff);
    expect(payments.breaker).toMatchObject({ failures: 3, openForMs: 15_000, windowMs: 60_000 });
  });
});

import { describe, expect, it } from 'vitest';
import { Coalescer, untilAborted } from '../../agent/cache/coalesce.ts';

function deferred<T>() {
  return Promise.withResolvers<T>();
}

describe('Coalescer', () => {
  it('shares one fetch among concurrent callers', async () => {
    const coalescer = new Coalescer<string>();
    const upstream = deferred<string>();
    let fetches = 0;
    const fetch = () => {
      fetches++;

      return upstream.promise;
    };
    const joined = [
      coalescer.run('k', fetch),
      coalescer.run('k', fetch),
      coalescer.run('k', fetch),
    ];
    upstream.resolve('body');

    expect(joined.map((j) => j.role)).toEqual(['leader', 'waiter', 'waiter']);
    expect(await Promise.all(joined.map((j) => j.result))).toEqual(['body', 'body', 'body']);
    expect(fetches).toBe(1);
    expect(coalescer.size).toBe(0);
  });

  it('keeps different keys apart', async () => {
    const coalescer = new Coalescer<string>();
    const a = coalescer.run('a', async () => 'A');
    const b = coalescer.run('b', async () => 'B');

    expect([a.role, b.role]).toEqual(['leader', 'leader']);
    expect([await a.result, await b.result]).toEqual(['A', 'B']);
  });

  it('rejects every waiter with the leader failure', async () => {
    const coalescer = new Coalescer<string>();
    const upstream = deferred<string>();
    const joined = Array.from({ length: 5 }, () => coalescer.run('k', () => upstream.promise));
    const failure = new Error('connect ECONNREFUSED');
    upstream.reject(failure);
    const settled = await Promise.allSettled(joined.map((j) => j.result));

    expect(settled.map((s) => s.status)).toEqual(Array(5).fill('rejected'));
    expect(settled.map((s) => (s.status === 'rejected' ? s.reason : undefined))).toEqual(
      Array(5).fill(failure),
    );
    expect(coalescer.inFlight('k')).toBe(false);
  });

  it('turns a synchronous throw into a shared rejection', async () => {
    const coalescer = new Coalescer<string>();
    const leader = coalescer.run('k', () => {
      throw new Error('boom');
    });

    await expect(leader.result).rejects.toThrow('boom');
    expect(coalescer.size).toBe(0);
  });

  it('starts a new flight once the previous one settled', async () => {
    const coalescer = new Coalescer<number>();
    let fetches = 0;
    const fetch = async () => ++fetches;
    await coalescer.run('k', fetch).result;
    const second = coalescer.run('k', fetch);

    expect(second.role).toBe('leader');
    expect(await second.result).toBe(2);
  });

  it('lets a waiter that reacts to the result lead a new flight', async () => {
    const coalescer = new Coalescer<string>();
    const upstream = deferred<string>();
    coalescer.run('k', () => upstream.promise);
    const waiter = coalescer.run('k', () => upstream.promise);
    const again = waiter.result.then(() => coalescer.run('k', async () => 'fresh'));
    upstream.resolve('first');
    const rerun = await again;

    expect(rerun.role).toBe('leader');
    expect(await rerun.result).toBe('fresh');
  });

  it('sends callers past the waiter cap upstream alone', async () => {
    const coalescer = new Coalescer<string>(2);
    const upstream = deferred<string>();
    let ownFetches = 0;
    const own = async () => {
      ownFetches++;

      return 'own';
    };
    const joined = [
      coalescer.run('k', () => upstream.promise),
      coalescer.run('k', own),
      coalescer.run('k', own),
      coalescer.run('k', own),
    ];
    upstream.resolve('shared');

    expect(joined.map((j) => j.role)).toEqual(['leader', 'waiter', 'waiter', 'alone']);
    expect(await Promise.all(joined.map((j) => j.result))).toEqual([
      'shared',
      'shared',
      'shared',
      'own',
    ]);
    expect(ownFetches).toBe(1);
  });
});

describe('untilAborted', () => {
  it('rejects with the abort reason while the promise is pending', async () => {
    const controller = new AbortController();
    const pending = deferred<string>();
    const waiting = untilAborted(pending.promise, controller.signal);
    controller.abort(new Error('deadline'));

    await expect(waiting).rejects.toThrow('deadline');
    pending.resolve('late');
  });

  it('passes the value through when nothing aborts', async () => {
    const controller = new AbortController();

    expect(await untilAborted(Promise.resolve('v'), controller.signal)).toBe('v');
  });

  it('rejects at once for an aborted signal', async () => {
    await expect(
      untilAborted(new Promise(() => {}), AbortSignal.abort(new Error('gone'))),
    ).rejects.toThrow('gone');
  });
});

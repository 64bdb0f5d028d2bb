import { Logger } from '@nestjs/common';
import type { Etcd3 } from 'etcd3';
import { EtcdPrefixCache } from './etcd-prefix-cache';

describe('EtcdPrefixCache', () => {
  beforeEach(() => jest.useFakeTimers({ now: 0 }));
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('lists again with doubling waits until etcd answers, then watches from the revision after the listing', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    let failures = 2;
    const startRevision = jest.fn();
    const watcher = { on: jest.fn() };
    const builder = {
      prefix: () => builder,
      startRevision: (r: string) => (startRevision(r), builder),
      create: () => Promise.resolve(watcher),
    };
    const listing = {
      kvs: [{ key: Buffer.from('/p/e1'), value: Buffer.from('{"id":"e1"}') }],
      header: { revision: '41' },
    };
    const client = {
      getAll: () => ({
        prefix: () => ({
          exec: () => (failures-- > 0 ? Promise.reject(new Error('unavailable')) : Promise.resolve(listing)),
        }),
      }),
      watch: () => builder,
    } as unknown as Etcd3;

    const cache = new EtcdPrefixCache<{ id: string }>(client, '/p/');
    const started = cache.start();
    await jest.advanceTimersByTimeAsync(200 + 400);
    await started;
    expect(warn.mock.calls.map(([m]) => m as string)).toEqual([
      'etcd not reachable for /p/ (unavailable); retrying in 200 ms',
      'etcd not reachable for /p/ (unavailable); retrying in 400 ms',
    ]);
    expect(cache.values()).toEqual([{ id: 'e1' }]);
    expect(startRevision).toHaveBeenCalledWith('42');
  });
});

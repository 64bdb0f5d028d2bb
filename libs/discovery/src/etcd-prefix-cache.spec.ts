import { EventEmitter } from 'node:events';
import { Logger } from '@nestjs/common';
import type { Etcd3 } from 'etcd3';
import { etcdDiscoveryHealth } from './etcd-health';
import { EtcdPrefixCache, etcdWatchStates } from './etcd-prefix-cache';

interface Listing {
  kvs: { key: Buffer; value: Buffer }[];
  header: { revision: string };
}

const listing = (revision: number, entries: Record<string, object>): Listing => ({
  kvs: Object.entries(entries).map(([k, v]) => ({ key: Buffer.from(k), value: Buffer.from(JSON.stringify(v)) })),
  header: { revision: String(revision) },
});
const kv = (key: string, modRevision: number, value?: object) => ({
  key: Buffer.from(key),
  value: Buffer.from(value ? JSON.stringify(value) : ''),
  mod_revision: String(modRevision),
});

/** An etcd client whose listings are queued answers (an Error rejects) and whose watchers the test drives. */
function fakeClient(answers: (Listing | Error)[]) {
  const watchers: (EventEmitter & { cancel: jest.Mock })[] = [];
  const startRevisions: string[] = [];
  const builder = {
    prefix: () => builder,
    startRevision: (r: string) => (startRevisions.push(r), builder),
    watcher: () => {
      const w = Object.assign(new EventEmitter(), { cancel: jest.fn(() => Promise.resolve()) });
      watchers.push(w);
      return w;
    },
  };
  let status: () => Promise<unknown> = () => Promise.resolve({});
  const client = {
    getAll: () => ({
      prefix: () => ({
        exec: () => {
          const next = answers.length > 1 ? answers.shift()! : answers[0];
          return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
        },
      }),
    }),
    watch: () => builder,
    maintenance: { status: () => status() },
  } as unknown as Etcd3;
  return {
    client,
    watchers,
    startRevisions,
    setStatus: (fn: () => Promise<unknown>) => (status = fn),
  };
}

describe('EtcdPrefixCache', () => {
  let warn: jest.SpyInstance;
  beforeEach(() => {
    jest.useFakeTimers({ now: 0 });
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('lists again with doubling waits until etcd answers, then watches from the revision after the listing', async () => {
    const f = fakeClient([new Error('unavailable'), new Error('unavailable'), listing(41, { '/p/e1': { id: 'e1' } })]);
    const cache = new EtcdPrefixCache<{ id: string }>(f.client, '/p/', { relistIntervalMs: 0 });
    const started = cache.start();
    await jest.advanceTimersByTimeAsync(200 + 400);
    await started;
    expect(warn.mock.calls.map(([m]) => m as string)).toEqual([
      'etcd not reachable for /p/ (unavailable); retrying in 200 ms',
      'etcd not reachable for /p/ (unavailable); retrying in 400 ms',
    ]);
    expect(cache.values()).toEqual([{ id: 'e1' }]);
    expect(f.startRevisions).toEqual(['42']);
    expect(cache.watchState()).toMatchObject({ phase: 'connecting', live: false });
    f.watchers[0].emit('connected', {});
    expect(cache.watchState()).toMatchObject({ phase: 'watching', live: true });
    await cache.stop();
  });

  it('applies watch events newer than the listing, and ignores the ones the listing holds', async () => {
    const f = fakeClient([listing(10, { '/p/a': { id: 'a' }, '/p/b': { id: 'b' } })]);
    const cache = new EtcdPrefixCache<{ id: string }>(f.client, '/p/', { relistIntervalMs: 0 });
    const seen: string[][] = [];
    cache.onChange((values) => seen.push(values.map((v) => v.id)));
    await cache.start();
    const w = f.watchers[0];
    w.emit('delete', kv('/p/a', 9)); // older than the listing: a is there at 10
    w.emit('put', kv('/p/c', 11, { id: 'c' }));
    w.emit('delete', kv('/p/b', 12));
    expect(cache.values().map((v) => v.id)).toEqual(['a', 'c']);
    expect(seen).toEqual([
      ['a', 'b'],
      ['a', 'b', 'c'],
      ['a', 'c'],
    ]);
    await cache.stop();
  });

  it('after a cancelled watch, says it is not live, lists again with back-off, drops what went and watches on', async () => {
    const f = fakeClient([
      listing(20, { '/p/e1': { id: 'e1' }, '/p/e2': { id: 'e2' } }),
      new Error('unavailable'),
      listing(90, { '/p/e1': { id: 'e1' }, '/p/e3': { id: 'e3' } }),
    ]);
    const cache = new EtcdPrefixCache<{ id: string }>(f.client, '/p/', { relistIntervalMs: 0 });
    const seen: string[][] = [];
    cache.onChange((values) => seen.push(values.map((v) => v.id)));
    await cache.start();
    f.watchers[0].emit('connected', {});
    expect(await etcdDiscoveryHealth(f.client)).toEqual({ status: 'ok', detail: 'etcd' });

    f.watchers[0].emit('disconnected', new Error('14 UNAVAILABLE: Connection dropped'));
    f.watchers[0].emit('disconnected', new Error('14 UNAVAILABLE: Connection dropped'));
    expect(cache.watchState()).toMatchObject({ phase: 'disconnected', live: false });
    expect(warn.mock.calls.filter(([m]) => /disconnected/.test(m as string))).toHaveLength(1);
    // The client reconnects, and etcd cancels the watch at once: its revision was compacted meanwhile.
    f.watchers[0].emit('connected', {});
    f.watchers[0].emit('error', new Error('Watcher canceled: '));
    expect(cache.watchState()).toMatchObject({
      phase: 'relisting',
      live: false,
      reason: 'Watcher canceled, most likely compacted past its revision',
    });
    const health = await etcdDiscoveryHealth(f.client);
    expect(health.status).toBe('degraded');
    expect(health.detail).toMatch(/the watch on \/p\/ was lost .*listing again with back-off/);

    await jest.advanceTimersByTimeAsync(200); // the first listing failed; the second answers
    expect(cache.values().map((v) => v.id)).toEqual(['e1', 'e3']);
    expect(seen.at(-1)).toEqual(['e1', 'e3']);
    expect(f.startRevisions).toEqual(['21', '91']);
    expect(cache.watchState().live).toBe(false);
    // Events of the watcher given up are not applied any more.
    f.watchers[0].emit('put', kv('/p/old', 95, { id: 'old' }));
    f.watchers[1].emit('connected', {});
    f.watchers[1].emit('put', kv('/p/e4', 95, { id: 'e4' }));
    expect(cache.values().map((v) => v.id)).toEqual(['e1', 'e3', 'e4']);
    expect(await etcdDiscoveryHealth(f.client)).toEqual({ status: 'ok', detail: 'etcd' });
    await cache.stop();
    expect(f.watchers[1].cancel).toHaveBeenCalled();
    expect(etcdWatchStates(f.client)).toEqual([]);
  });

  it('lists again now and then, and corrects a copy that a stuck watch let go stale', async () => {
    const f = fakeClient([listing(5, { '/p/a': { id: 'a' } }), listing(7, {})]);
    const cache = new EtcdPrefixCache<{ id: string }>(f.client, '/p/', { relistIntervalMs: 1000 });
    await cache.start();
    f.watchers[0].emit('connected', {});
    await jest.advanceTimersByTimeAsync(1000);
    expect(cache.values()).toEqual([]);
    expect(warn).toHaveBeenCalledWith('etcd listing of /p/ differed from the watched copy; corrected');
    // The watch's late delete of a, at 6, is in that listing already; a put after it is applied.
    f.watchers[0].emit('delete', kv('/p/a', 6));
    f.watchers[0].emit('put', kv('/p/b', 8, { id: 'b' }));
    expect(cache.values()).toEqual([{ id: 'b' }]);
    await cache.stop();
  });

  it('reports etcd unreachable as degraded', async () => {
    const f = fakeClient([listing(1, {})]);
    f.setStatus(() => Promise.reject(new Error('14 UNAVAILABLE')));
    expect(await etcdDiscoveryHealth(f.client)).toEqual({
      status: 'degraded',
      detail: 'etcd unreachable (14 UNAVAILABLE); using the last known executors',
    });
  });
});

// The executor directory on a real etcd, reached through a loopback TCP proxy that the test cuts: while the link is
// down, executors come and go and etcd compacts its history past the directory's watch. The etcd3 client then has
// its watcher cancelled on reconnect (the revision it resumes from is gone) and never watches again on its own; the
// directory must list again, watch from there, and say it is degraded until it does.
import { Etcd3 } from 'etcd3';
import { startTcpProxy, TcpProxy } from '../../../test/support/tcp-proxy';
import { testServices, uniquePrefix } from '../../../test/support/services';
import { waitFor } from '../../../test/support/wait';
import { etcdClient, EtcdExecutorDirectory, etcdKeys } from './etcd-directory';
import { etcdDiscoveryHealth } from './etcd-health';
import type { ExecutorInfo } from './executor-directory';

describe('EtcdExecutorDirectory through a link that breaks', () => {
  const prefix = `/${uniquePrefix('etcd-directory')}`;
  const etcdUrl = new URL(testServices().etcdHosts.split(',')[0]);
  let proxy: TcpProxy;
  let direct: Etcd3;
  let viaProxy: Etcd3;
  let directory: EtcdExecutorDirectory | null = null;

  const info = (id: string): ExecutorInfo => ({
    id,
    address: `127.0.0.1:${50000 + Number(id.slice(1))}`,
    group: 'default',
    capacity: 4,
    running: 0,
    startedAt: new Date(0).toISOString(),
    draining: false,
  });
  const register = (id: string) => direct.put(etcdKeys.executor(prefix, 'default', id)).value(JSON.stringify(info(id)));
  const unregister = (id: string) => direct.delete().key(etcdKeys.executor(prefix, 'default', id));
  const listed = () =>
    directory!
      .list()
      .map((e) => e.id)
      .sort()
      .join(',');

  beforeAll(async () => {
    proxy = await startTcpProxy({ host: etcdUrl.hostname, port: Number(etcdUrl.port || 2379) });
    direct = new Etcd3({ hosts: testServices().etcdHosts, dialTimeout: 3000 });
    viaProxy = etcdClient([`http://${proxy.address}`]);
  });

  afterAll(async () => {
    await directory?.stop();
    await direct?.delete().prefix(`${prefix}/`);
    viaProxy?.close();
    direct?.close();
    await proxy?.close();
  });

  it('lists again and watches on after etcd compacted past its watch while the link was cut', async () => {
    await register('e1');
    await register('e2');
    // The safety-net listing is off: what this test shows is the recovery of the watch itself.
    directory = new EtcdExecutorDirectory(viaProxy, prefix, { relistIntervalMs: 0 });
    const seen: string[] = [];
    directory.onChange((list) =>
      seen.push(
        list
          .map((e) => e.id)
          .sort()
          .join(','),
      ),
    );
    await directory.start();
    expect(listed()).toBe('e1,e2');
    await waitFor(() => directory!.watchState().live, { timeoutMs: 10_000, what: 'the watch is attached' });
    await register('e3');
    await waitFor(() => listed() === 'e1,e2,e3', { timeoutMs: 10_000, what: 'the watch sees e3 come' });
    expect((await etcdDiscoveryHealth(viaProxy)).status).toBe('ok');

    proxy.cut();
    const outage = await waitFor(
      async () => {
        const h = await etcdDiscoveryHealth(viaProxy, 500);
        return !directory!.watchState().live && h.status === 'degraded' && h;
      },
      { timeoutMs: 10_000, what: 'discovery degraded while the link is cut' },
    );
    expect(outage.detail).toMatch(/etcd unreachable/);
    expect(directory.watchState().phase).toBe('disconnected');
    expect(listed()).toBe('e1,e2,e3'); // the last known list stays meanwhile

    // Meanwhile: e2 dies, e4 comes, other keys change many times, and etcd compacts its history up to now.
    await unregister('e2');
    await register('e4');
    let revision = '0';
    for (let i = 0; i < 50; i++) {
      revision = (await direct.put(`${prefix}/noise`).value(String(i)).exec()).header.revision;
    }
    await direct.kv.compact({ revision, physical: true });

    proxy.restore();
    await waitFor(() => listed() === 'e1,e3,e4', {
      timeoutMs: 30_000,
      what: 'the directory drops e2 and lists e4 after the link is back',
    });
    expect(seen).toContain('e1,e3,e4');
    await waitFor(async () => directory!.watchState().live && (await etcdDiscoveryHealth(viaProxy)).status === 'ok', {
      timeoutMs: 30_000,
      what: 'discovery ok again',
    });

    // The new watch delivers changes as they happen.
    await unregister('e1');
    await register('e5');
    await waitFor(() => listed() === 'e3,e4,e5', { timeoutMs: 10_000, what: 'the new watch sees e1 go and e5 come' });
  });
});

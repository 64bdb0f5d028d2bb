// ShardOwnership on the real etcd of the test services, several dispatchers in one process (each with its own
// client, lease and registration), lease_ttl 2 s: shards split and rebalanced, handed over only after the old holder
// stopped planning them, freed at once on shutdown, and a key naming no live dispatcher cleared.
import { join } from 'node:path';
import { Etcd3, Watcher } from 'etcd3';
import { SHARD_COUNT } from '@app/common';
import { loadConfig } from '@app/config';
import { etcdClient, etcdKeys } from '@app/discovery';
import { testServices, uniquePrefix } from '../../../../test/support/services';
import { waitFor } from '../../../../test/support/wait';
import { DispatcherRegistry } from './dispatcher-registry.service';
import { ShardChange, ShardOwnership } from './shard-ownership.service';

const TTL_S = 2;

interface Member {
  id: string;
  etcd: Etcd3;
  registry: DispatcherRegistry;
  shards: ShardOwnership;
  changes: ShardChange[];
}

describe('ShardOwnership on etcd', () => {
  const prefix = `/${uniquePrefix('shard-ownership')}`;
  const members = new Map<string, Member>();
  let admin: Etcd3;
  /** When a shard's key was deleted or put, as a watch on the prefix saw it. */
  const deletedAt = new Map<number, number>();
  /** When each member's listener finished handling the loss of a shard. */
  const lossHandledAt = new Map<string, number>();

  function start(id: string, onLoss?: () => Promise<void>): Member {
    const config = loadConfig(join(__dirname, '../../../../conf/conf.ini'), {
      GOCRON_DISPATCHER_ID: id,
      GOCRON_DATABASE_TYPE: 'mysql',
      GOCRON_ETCD_HOSTS: testServices().etcdHosts,
      GOCRON_ETCD_PREFIX: prefix,
      GOCRON_ETCD_LEASE_TTL: String(TTL_S),
    });
    const etcd = etcdClient(config.etcd.hosts);
    const registry = new DispatcherRegistry(config, etcd);
    const shards = new ShardOwnership(config, etcd, registry);
    const m: Member = { id, etcd, registry, shards, changes: [] };
    shards.onChange(async (change) => {
      m.changes.push(change);
      if (change.lost.length > 0 && onLoss) await onLoss();
      for (const n of change.lost) lossHandledAt.set(`${id}:${n}`, Date.now());
    });
    shards.onModuleInit();
    members.set(id, m);
    return m;
  }

  async function stop(id: string): Promise<void> {
    const m = members.get(id)!;
    members.delete(id);
    await m.shards.beforeApplicationShutdown();
    await m.shards.onApplicationShutdown();
    await m.registry.onApplicationShutdown();
    m.etcd.close();
  }

  /** Shard → holder, as etcd has it now. */
  async function holders(): Promise<Map<number, string>> {
    const kvs = await admin.getAll().prefix(etcdKeys.shards(prefix)).strings();
    return new Map(Object.entries(kvs).map(([k, v]) => [Number(k.slice(etcdKeys.shards(prefix).length)), v]));
  }

  /** Every shard held, balanced over `ids`, and each member plans exactly the shards it holds. */
  async function settledOver(ids: string[]): Promise<boolean> {
    const held = await holders();
    if (held.size !== SHARD_COUNT) return false;
    const counts = ids.map((id) => [...held.values()].filter((h) => h === id).length);
    if (counts.reduce((a, b) => a + b, 0) !== SHARD_COUNT || Math.max(...counts) - Math.min(...counts) > 1)
      return false;
    for (const id of ids) {
      const m = members.get(id)!;
      if (m.shards.mode !== 'owned') return false;
      const mine = [...held]
        .filter(([, h]) => h === id)
        .map(([n]) => n)
        .sort((x, y) => x - y);
      if (m.shards.plannedShards().join() !== mine.join()) return false;
    }
    return true;
  }

  let watcher: Watcher;

  beforeAll(async () => {
    admin = etcdClient(testServices().etcdHosts.split(','));
    watcher = await admin.watch().prefix(etcdKeys.shards(prefix)).create();
    watcher.on('delete', (kv) => deletedAt.set(Number(kv.key.toString().split('/').pop()), Date.now()));
  });

  afterAll(async () => {
    for (const id of [...members.keys()]) await stop(id);
    await watcher?.cancel();
    await admin.delete().prefix(prefix);
    admin.close();
  });

  it('splits the shards between two dispatchers, each on its own lease', async () => {
    // Losing a shard takes its old holder a moment (the scheduler writes the cursors): the key must wait for it.
    const slowLoss = () => new Promise<void>((resolve) => setTimeout(resolve, 150));
    start('a', slowLoss);
    start('b', slowLoss);
    await waitFor(() => settledOver(['a', 'b']), { timeoutMs: 15_000, what: 'shards split between a and b' });
    const a = members.get('a')!;
    expect(a.shards.leads || members.get('b')!.shards.leads).toBe(true);
    expect(a.shards.leads && members.get('b')!.shards.leads).toBe(false);
    // Only the holder's lease keeps a key: each dispatcher's are on the lease of its registration.
    const leaseOfA = await a.registry.leaseId();
    const shardOfA = a.shards.plannedShards()[0];
    const kv = await admin.get(etcdKeys.shard(prefix, shardOfA)).exec();
    expect(BigInt(kv.kvs[0].lease)).toBe(BigInt(leaseOfA!));
  });

  it('a third joins: about a third moves to it, each given back only after its old holder stopped planning it', async () => {
    const before = await holders();
    for (const m of members.values()) m.changes.length = 0;
    deletedAt.clear();
    start('c');
    await waitFor(() => settledOver(['a', 'b', 'c']), { timeoutMs: 15_000, what: 'shards over a, b and c' });
    const after = await holders();
    const moved = [...after].filter(([n, h]) => before.get(n) !== h);
    expect(moved.length).toBeGreaterThanOrEqual(85);
    expect(moved.length).toBeLessThan(120);
    for (const [n] of moved) {
      const from = before.get(n)!;
      const handled = lossHandledAt.get(`${from}:${n}`);
      expect({ n, handled: handled !== undefined }).toEqual({ n, handled: true });
      expect(deletedAt.get(n)).toBeGreaterThanOrEqual(handled!);
    }
  });

  it('leaves at once on shutdown, before anything else stops: the others take every shard meanwhile', async () => {
    const held = [...(await holders())].filter(([, h]) => h === 'c').map(([n]) => n);
    expect(held.length).toBeGreaterThan(80);
    const c = members.get('c')!;
    const stopped = Date.now();
    // Only the first shutdown step: the process may take a while over the rest (HTTP connections, drains).
    await c.shards.beforeApplicationShutdown();
    expect([...(await holders())].filter(([, h]) => h === 'c')).toEqual([]);
    const listed = await admin.getAll().prefix(etcdKeys.dispatchers(prefix)).keys();
    expect(listed.map((k) => k.split('/').pop())).not.toContain('c');
    await waitFor(() => settledOver(['a', 'b']), { timeoutMs: 15_000, what: 'shards back over a and b' });
    // Well within a lease TTL: the lease was revoked, not left to expire, and c was no longer anyone's target.
    expect(Date.now() - stopped).toBeLessThan(TTL_S * 1000);
    await stop('c');
  });

  it('a key naming a dispatcher that is not live is cleared by its target after a TTL, then taken', async () => {
    const held = await holders();
    const [n, target] = [...held][7];
    // Replace a's (or b's) key by one naming a ghost, on no lease (it would never expire by itself).
    await admin.put(etcdKeys.shard(prefix, n)).value('ghost').exec();
    await waitFor(async () => (await holders()).get(n) === target, {
      timeoutMs: 4 * TTL_S * 1000 + 5000,
      what: `shard ${n} back with ${target}`,
    });
    await waitFor(() => settledOver(['a', 'b']), { timeoutMs: 10_000, what: 'settled again' });
  });
});

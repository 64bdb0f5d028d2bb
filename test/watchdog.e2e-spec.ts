// The missed-tick watchdog with real parts: two dispatchers and an executor on MariaDB and Redis. Ticks go
// unclaimed while both dispatchers run (their tick locks are held in Redis, as by a dispatcher that took them and
// died before writing): each is recorded as `missed` exactly once and notified exactly once (a webhook to a local
// receiver, min_interval 0 so that no notification folds into another), and every other tick has its one record.
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Redis from 'ioredis';
import { Api, Job, Run, startDispatcher, startExecutor } from './support/gocron';
import { stopAllApps } from './support/processes';
import { createMysqlDatabase, etcdEnv, redisEnv, TestDatabase, testServices } from './support/services';
import { waitFor } from './support/wait';

const SECOND = 1000;

describe('missed-tick watchdog: ticks left unclaimed while two dispatchers run', () => {
  let db: TestDatabase;
  let redis: Redis;
  let api: Api;
  let prefix: string;
  let receiver: Server;
  const hooks: { delivery: string; body: { event: string; run: { id: number } } }[] = [];

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        hooks.push({ delivery: String(req.headers['x-gocron-delivery']), body: JSON.parse(body) });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    db = await createMysqlDatabase('watchdog');
    const r = redisEnv('watchdog');
    prefix = r.GOCRON_REDIS_PREFIX;
    const env = {
      ...db.env,
      ...r,
      ...etcdEnv('watchdog'),
      GOCRON_DISPATCHER_MISFIRE_THRESHOLD: '1',
      GOCRON_DISPATCHER_MISSED_GRACE: '3',
      GOCRON_NOTIFY_ON: 'missed',
      GOCRON_NOTIFY_WEBHOOK_URL: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
      GOCRON_NOTIFY_MIN_INTERVAL: '0',
    };
    const d1 = await startDispatcher(env, 'd1');
    await startDispatcher(env, 'd2');
    await startExecutor(env, 'e1');
    api = new Api(d1.base);
    redis = new Redis(testServices().redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
  });

  afterAll(async () => {
    redis?.disconnect();
    await stopAllApps();
    await new Promise((r) => receiver?.close(r));
    await db?.drop();
  });

  it('records each unclaimed tick as missed once; the other ticks keep their one record', async () => {
    const job: Job = await api.createJob({
      name: 'watched',
      cron: '* * * * * *',
      type: 'shell',
      command: 'true',
      concurrency: 'allow',
      misfire: 'all',
    });
    // Three ticks a few seconds ahead: their locks taken, as by a dispatcher that took them and never wrote. The
    // schedulers wait behind the first (the lock may yet be followed by its record) until the locks expire, 30 s
    // later: long enough for a sweep (every 15 s, 3 s of grace) to find the three with no record.
    const first = Math.ceil(Date.now() / SECOND) * SECOND + 4 * SECOND;
    const held = [first, first + SECOND, first + 2 * SECOND];
    for (const at of held) {
      expect(await redis.set(`${prefix}:lock:${job.id}:${at / SECOND}:1`, 'gone', 'PX', 30_000, 'NX')).toBe('OK');
    }
    const after = first + 32 * SECOND;
    const runs = await waitFor(
      async () => {
        const all = await api.runs(job.id);
        const missed = all.filter((r) => r.status === 'missed');
        const later = all.some((r) => r.status === 'succeeded' && Date.parse(r.scheduledAt) >= after);
        return missed.length >= held.length && later ? all : undefined;
      },
      { timeoutMs: 90_000, what: 'the held ticks recorded as missed, and ticks after them run', intervalMs: 500 },
    ).catch(async (e: Error) => {
      const all = await api.runs(job.id);
      const summary = all.map((r) => `${r.scheduledAt.slice(11, 19)} ${r.status} ${r.trigger}`).join('\n');
      throw new Error(`${e.message}\nfirst held ${new Date(first).toISOString()}\n${summary}`);
    });
    await api.call('POST', `/api/jobs/${job.id}/pause`, undefined, 200);

    // The held ticks are missed, and so may be those the stalled schedulers had not reached by a sweep.
    const missed = runs.filter((r: Run) => r.status === 'missed');
    expect(held.filter((t) => !missed.some((r) => Date.parse(r.scheduledAt) === t))).toEqual([]);
    expect(missed[0].error).toMatch(/no dispatcher claimed this tick within 3 s/);
    // Every tick from the job's first to `after` has exactly one first-attempt record.
    const firsts = runs.filter((r) => r.attempt === 1 && r.trigger !== 'manual');
    const ticks = firsts.map((r) => Date.parse(r.scheduledAt)).filter((t) => t <= after);
    const counts = new Map<number, number>();
    for (const t of ticks) counts.set(t, (counts.get(t) ?? 0) + 1);
    expect([...counts].filter(([, n]) => n > 1)).toEqual([]);
    const sorted = [...counts.keys()].sort((a, b) => a - b);
    expect(sorted.slice(1).filter((t, i) => t - sorted[i] !== SECOND)).toEqual([]);
    expect(sorted[0]).toBeLessThan(first);

    // Each missed tick notified once, by one of the two dispatchers: one outbox row, one delivery received.
    const missedIds = missed.map((r) => r.id).sort((a, b) => a - b);
    await waitFor(
      async () => {
        const rows = (
          await api.call<{ items: { runId: number; status: string }[] }>('GET', '/api/notifications?limit=500')
        ).body.items;
        return rows.filter((n) => n.status === 'sent').length >= missedIds.length && hooks.length >= missedIds.length;
      },
      { timeoutMs: 30_000, what: 'a notification sent for each missed tick', intervalMs: 300 },
    );
    const rows = (
      await api.call<{ items: { runId: number; event: string; status: string }[] }>(
        'GET',
        '/api/notifications?limit=500',
      )
    ).body.items;
    expect(rows.map((n) => n.runId).sort((a, b) => a - b)).toEqual(missedIds);
    expect(rows.every((n) => n.event === 'missed' && n.status === 'sent')).toBe(true);
    // A delivery may be retried (at least once), never sent for another run; one per missed run arrived.
    expect([...new Set(hooks.map((h) => h.body.run.id))].sort((a, b) => a - b)).toEqual(missedIds);
    expect(new Set(hooks.map((h) => h.delivery)).size).toBe(missedIds.length);
    expect(hooks.every((h) => h.body.event === 'missed')).toBe(true);
  });
});

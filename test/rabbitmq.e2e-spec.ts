// RabbitMQ as a dispatch transport (issue 16), end to end: a dispatcher and executors as real processes on SQLite,
// auth on, the broker groups' runs through the test RabbitMQ under a queue prefix of the suite's own (the restart
// test: a RabbitMQ node of its own). Every run must end exactly once.
import amqp from 'amqplib';
import { Api, Run, sqliteEnv, startDispatcher, startExecutor } from './support/gocron';
import { stopAllApps } from './support/processes';
import { startRabbitNode } from './support/rabbitmq-node';
import { brokerEnv, deleteBrokerQueues, freePort } from './support/services';
import { waitFor } from './support/wait';

const ONCE_A_YEAR = '0 0 1 1 *';
/**
 * How long a broker run may take to start here: a publish whose confirm did not come in time (a loaded machine)
 * leaves the run unqueued, and the pending pass publishes it again only after FRESH_MS (10 s).
 */
const BROKER_START_MS = 30_000;

interface BrokerJson {
  connected: boolean;
  url: string;
  queues: { name: string; kind: string; ready: number | null; consumers: number | null }[];
  deadLettered: {
    queued: number | null;
    handled: number;
    recent: { runId: number | null; reason: string; outcome: string }[];
  };
}

interface Setup {
  api: Api;
  env: Record<string, string>;
  prefix: string;
  ports: number[];
}

/** A dispatcher with `executors` static targets; `groups` through the broker. */
async function setup(suite: string, executors: number, groups: string, url?: string): Promise<Setup> {
  const env: Record<string, string> = {
    ...(await sqliteEnv(suite)),
    ...brokerEnv(suite, groups, url),
    GOCRON_ETCD_LEASE_TTL: '2',
  };
  const ports = await Promise.all(Array.from({ length: executors }, () => freePort()));
  const d = await startDispatcher(
    { ...env, GOCRON_EXECUTOR_STATIC_TARGETS: ports.map((p) => `127.0.0.1:${p}`).join(',') },
    `${suite}-d`,
  );
  return { api: new Api(d.base), env, prefix: env.GOCRON_RABBITMQ_PREFIX, ports };
}

const broker = async (api: Api) => (await api.call<BrokerJson>('GET', '/api/broker', undefined, 200)).body;
const readyIn = async (api: Api, name: string) => (await broker(api)).queues.find((q) => q.name === name)?.ready;

function shellJob(api: Api, name: string, group: string, command = 'echo ok', extra: Record<string, unknown> = {}) {
  return api.createJob({ name, cron: ONCE_A_YEAR, type: 'shell', command, group, ...extra });
}

async function allFinal(api: Api, jobId: number, n: number, timeoutMs = 30_000): Promise<Run[]> {
  return waitFor(
    async () => {
      const runs = await api.runs(jobId);
      return runs.length >= n && runs.every((r) => !['pending', 'running'].includes(r.status)) ? runs : undefined;
    },
    { timeoutMs, what: `${n} final run(s) of job ${jobId}`, intervalMs: 200 },
  );
}

describe('RabbitMQ transport', () => {
  const cleanups: (() => Promise<void>)[] = [];

  afterEach(async () => {
    await stopAllApps();
    for (const c of cleanups.splice(0)) await c().catch(() => undefined);
  });

  it('queues runs while no executor of the group runs, starts them when one comes; a gRPC group beside it', async () => {
    const s = await setup('mq-queue', 2, 'mq');
    cleanups.push(() => deleteBrokerQueues(s.prefix, { groups: ['mq'], executors: ['mq-queue-e1'] }));
    const viaBroker = await shellJob(s.api, 'via-broker', 'mq');
    const viaGrpc = await shellJob(s.api, 'via-grpc', 'default');
    const ids = [
      await s.api.trigger(viaBroker.id),
      await s.api.trigger(viaBroker.id),
      await s.api.trigger(viaBroker.id),
    ];
    const queue = `${s.prefix}.runs.mq`;
    await waitFor(async () => (await readyIn(s.api, queue)) === 3, { timeoutMs: 20_000, what: '3 messages ready' });
    for (const id of ids) expect((await s.api.run(id)).status).toBe('pending');
    const b = await broker(s.api);
    expect(b.url).not.toContain('guest:guest');
    expect(b.url).toContain(':***@');

    await startExecutor({ ...s.env, GOCRON_EXECUTOR_GROUP: 'default' }, 'mq-queue-e0', s.ports[0]);
    const grpcRun = await s.api.trigger(viaGrpc.id);
    expect((await s.api.waitForRunStatus(grpcRun, ['succeeded'])).executorId).toBe('mq-queue-e0');
    for (const id of ids) expect((await s.api.run(id)).status).toBe('pending'); // not offered over gRPC

    await startExecutor({ ...s.env, GOCRON_EXECUTOR_GROUP: 'mq' }, 'mq-queue-e1', s.ports[1]);
    const runs = await allFinal(s.api, viaBroker.id, 3);
    expect(runs.map((r) => [r.status, r.executorId])).toEqual(ids.map(() => ['succeeded', 'mq-queue-e1']));
    await waitFor(async () => (await readyIn(s.api, queue)) === 0, { timeoutMs: 5_000, what: 'the queue empty' });
  });

  it('drops a redelivered message of a finished run, dead-letters an unprocessable one, fails one past its deadline', async () => {
    const s = await setup('mq-drop', 1, '*');
    cleanups.push(() => deleteBrokerQueues(s.prefix, { groups: ['default'], executors: ['mq-drop-e'] }));
    const job = await shellJob(s.api, 'once', 'default');
    const late = await shellJob(s.api, 'late', 'default', 'echo late', { timeoutMs: 1000 });
    const lateRun = await s.api.trigger(late.id); // no executor yet: it waits in the queue past its deadline
    const failed = await s.api.waitForRunStatus(lateRun, ['failed'], 10_000);
    expect(failed.error).toMatch(/deadline/);

    await startExecutor(s.env, 'mq-drop-e', s.ports[0]);
    const runId = await s.api.trigger(job.id);
    const done = await s.api.waitForRunStatus(runId, ['succeeded'], BROKER_START_MS);
    const conn = await amqp.connect(s.env.GOCRON_RABBITMQ_URL);
    const ch = await conn.createConfirmChannel();
    const queue = `${s.prefix}.runs.default`;
    const send = (body: string) =>
      new Promise<void>((resolve, reject) =>
        ch.sendToQueue(queue, Buffer.from(body), { persistent: true }, (e: unknown) =>
          e ? reject(e instanceof Error ? e : new Error('publish refused')) : resolve(),
        ),
      );
    const key = { v: 1, kind: 'run', runId, jobId: job.id, tickKey: '', attempt: 1 };
    const row = await s.api.run(runId);
    await send(JSON.stringify({ ...key, tickKey: 'wrong-key' }));
    await send('not json {');
    await send(JSON.stringify({ ...key, runId: 999_999, tickKey: 'x' }));
    await waitFor(async () => (await broker(s.api)).deadLettered.handled >= 2, {
      timeoutMs: 10_000,
      what: '2 dead letters handled',
    });
    await waitFor(async () => (await readyIn(s.api, queue)) === 0, { timeoutMs: 5_000, what: 'the queue empty' });
    const b = await broker(s.api);
    expect(b.deadLettered.recent.every((d) => d.reason === 'rejected' && d.outcome.startsWith('dropped'))).toBe(true);
    await conn.close();
    const after = await s.api.runs(job.id);
    expect(after).toHaveLength(1);
    expect([after[0].status, after[0].finishedAt]).toEqual(['succeeded', done.finishedAt]);
    expect(row.status).toBe('succeeded');
  });

  it('gives a broadcast job one run per executor of the group, through their control queues', async () => {
    const s = await setup('mq-bcast', 2, 'mq');
    cleanups.push(() => deleteBrokerQueues(s.prefix, { groups: ['mq'], executors: ['mq-bcast-a', 'mq-bcast-b'] }));
    await startExecutor({ ...s.env, GOCRON_EXECUTOR_GROUP: 'mq' }, 'mq-bcast-a', s.ports[0]);
    await startExecutor({ ...s.env, GOCRON_EXECUTOR_GROUP: 'mq' }, 'mq-bcast-b', s.ports[1]);
    await waitFor(async () => (await s.api.call<unknown[]>('GET', '/api/executors')).body.length === 2, {
      timeoutMs: 15_000,
      what: 'both executors listed',
    });
    const job = await s.api.createJob({
      name: 'bcast',
      cron: '* * * * * *',
      type: 'shell',
      command: 'echo hi',
      group: 'mq',
      routing: 'broadcast',
    });
    const runs = await waitFor(
      async () => {
        const rs = (await s.api.runs(job.id)).filter((r) => r.status === 'succeeded');
        const first = rs.length > 0 ? rs[rs.length - 1].scheduledAt : null;
        const tick = rs.filter((r) => r.scheduledAt === first);
        return tick.length >= 2 ? tick : undefined;
      },
      { timeoutMs: 20_000, what: 'a tick run on both executors' },
    );
    expect(runs.map((r) => r.executorId).sort()).toEqual(['mq-bcast-a', 'mq-bcast-b']);
    await s.api.call('POST', `/api/jobs/${job.id}/pause`, undefined, 200);
  });

  it('ends each run exactly once when an executor is SIGKILLed holding runs', async () => {
    const s = await setup('mq-kill', 2, 'mq');
    cleanups.push(() => deleteBrokerQueues(s.prefix, { groups: ['mq'], executors: ['mq-kill-a', 'mq-kill-b'] }));
    const a = await startExecutor(
      { ...s.env, GOCRON_EXECUTOR_GROUP: 'mq', GOCRON_EXECUTOR_CAPACITY: '2' },
      'mq-kill-a',
      s.ports[0],
    );
    const job = await shellJob(s.api, 'slow', 'mq', 'sleep 3');
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) ids.push(await s.api.trigger(job.id));
    await waitFor(async () => (await s.api.runs(job.id)).filter((r) => r.status === 'running').length === 2, {
      timeoutMs: 15_000,
      what: '2 runs running on executor a',
    });
    await a.app.kill('SIGKILL');
    await startExecutor(
      { ...s.env, GOCRON_EXECUTOR_GROUP: 'mq', GOCRON_EXECUTOR_CAPACITY: '4' },
      'mq-kill-b',
      s.ports[1],
    );
    const runs = await allFinal(s.api, job.id, 5, 60_000);
    expect(runs).toHaveLength(5); // no run doubled (retries 0: no new attempt)
    const byStatus = runs.map((r) => `${r.status}@${r.executorId}`).sort();
    expect(byStatus).toEqual([
      'lost@mq-kill-a',
      'lost@mq-kill-a',
      'succeeded@mq-kill-b',
      'succeeded@mq-kill-b',
      'succeeded@mq-kill-b',
    ]);
  });

  it('cancels a running run of a broker executor through its gRPC server: cancelled once, no retry', async () => {
    const s = await setup('mq-cancel', 1, 'mq');
    cleanups.push(() => deleteBrokerQueues(s.prefix, { groups: ['mq'], executors: ['mq-cancel-e'] }));
    await startExecutor({ ...s.env, GOCRON_EXECUTOR_GROUP: 'mq' }, 'mq-cancel-e', s.ports[0]);
    const job = await shellJob(s.api, 'long', 'mq', 'sleep 60', { retries: 2 });
    const runId = await s.api.trigger(job.id);
    await s.api.waitForRunStatus(runId, ['running'], BROKER_START_MS);
    await s.api.call('POST', `/api/runs/${runId}/cancel`, undefined, 202);
    const run = await s.api.waitForRunStatus(runId, ['cancelled', 'failed', 'succeeded', 'lost'], 10_000);
    expect(run.status).toBe('cancelled');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await s.api.runs(job.id)).map((r) => r.status)).toEqual(['cancelled']); // not retried
  });

  it('loses no run and doubles none across a broker restart (a node of its own)', async () => {
    const node = await startRabbitNode('mq-restart');
    cleanups.push(() => node.stop());
    const s = await setup('mq-restart', 1, '*', node.url);
    const job = await shellJob(s.api, 'through-restart', 'default');
    const ids: number[] = [];
    for (let i = 0; i < 4; i++) ids.push(await s.api.trigger(job.id));
    // A trigger that came before the dispatcher's link to the new node was up is published by the pending pass, which
    // leaves a never-confirmed run to its claimer for FRESH_MS (10 s) first.
    await waitFor(async () => (await readyIn(s.api, `${s.prefix}.runs.default`)) === 4, {
      timeoutMs: 25_000,
      what: '4 queued',
    });
    await node.stop();
    const health = await waitFor(
      async () => {
        const h = (
          await s.api.call<{ status: string; checks: Record<string, { status: string; detail: string }> }>(
            'GET',
            '/api/health',
          )
        ).body;
        return h.checks.broker?.status === 'degraded' ? h : undefined;
      },
      { timeoutMs: 20_000, what: 'health degraded for the broker' },
    );
    expect(health.status).toBe('degraded');
    expect(JSON.stringify(health)).not.toContain('guest:guest');
    for (let i = 0; i < 3; i++) ids.push(await s.api.trigger(job.id)); // the broker down: they wait pending
    await node.start();
    await startExecutor(s.env, 'mq-restart-e', s.ports[0]);
    const runs = await allFinal(s.api, job.id, 7, 60_000);
    expect(runs).toHaveLength(7);
    expect(runs.every((r) => r.status === 'succeeded')).toBe(true);
    expect(runs.map((r) => r.id).sort()).toEqual([...ids].sort());
  });
});

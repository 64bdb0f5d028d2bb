// Dependencies (issue 15): how soon a child starts after its parents finished.
//   node --import tsx bench/dependencies.ts [--chain=1000] [--fanin=100] [--occasions=10] [--systems=embedded,cluster]
// Needs `npm run build` (it starts dist/ apps) and, for cluster, the test services (source the env file that
// scripts/test-services.sh writes). Per system: a chain of `chain` shell jobs (`true`) started by one cascade trigger,
// and `fanin` parents on one schedule (every 20 s) with one `all` child, for `occasions` ticks. The figure is the
// child run's startedAt minus its last parent's finishedAt (the ledger's instants), p50/p99/max in ms, and the whole
// chain's time. Prints one JSON line per system and part.
import { Api, Job, Run, sqliteEnv, startDispatcher, startExecutor } from '../test/support/gocron';
import { stopAllApps } from '../test/support/processes';
import { createMysqlDatabase, etcdEnv, freePort, redisEnv } from '../test/support/services';
import { waitFor } from '../test/support/wait';

const arg = (name: string, fallback: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
const CHAIN = Number(arg('chain', '1000'));
const FANIN = Number(arg('fanin', '100'));
const OCCASIONS = Number(arg('occasions', '10'));
const SYSTEMS = arg('systems', 'embedded,cluster').split(',');
const NEVER = '0 0 1 1 *';

interface Detail extends Run {
  parentRunIds: number[];
}

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
  return { n: s.length, p50: at(50), p90: at(90), p99: at(99), max: s[s.length - 1] };
}

const ms = (iso: string | null) => Date.parse(iso as string);

async function listAll(api: Api, jobId: number): Promise<Run[]> {
  return api.runs(jobId, 'limit=500');
}

async function chain(api: Api, tag: string): Promise<Record<string, unknown>> {
  const jobs: Job[] = [];
  for (let i = 0; i < CHAIN; i++) {
    const parent = jobs[i - 1];
    jobs.push(
      await api.createJob({
        name: `${tag}-chain-${i}`,
        cron: i === 0 ? NEVER : '',
        type: 'shell',
        command: 'true',
        concurrency: 'allow',
        ...(parent ? { dependsOn: [{ jobId: parent.id, on: 'success' }] } : {}),
      }),
    );
  }
  const t0 = Date.now();
  const root = (await api.call<{ runId: number }>('POST', `/api/jobs/${jobs[0].id}/trigger?cascade=true`, undefined, 202))
    .body.runId;
  const last = jobs[jobs.length - 1];
  const lastRun = await waitFor(
    async () => (await listAll(api, last.id)).find((r) => r.status === 'succeeded'),
    { timeoutMs: CHAIN * 5000, what: 'the chain ended', intervalMs: 500 },
  );
  const wallMs = Date.now() - t0;
  const runs = new Map<number, Run>();
  runs.set(jobs[0].id, await api.run(root));
  for (const j of jobs.slice(1)) {
    const [r] = (await listAll(api, j.id)).filter((x) => x.trigger === 'dependency');
    runs.set(j.id, r);
  }
  const gaps: number[] = [];
  for (let i = 1; i < jobs.length; i++) {
    const p = runs.get(jobs[i - 1].id) as Run;
    const c = runs.get(jobs[i].id) as Run;
    gaps.push(ms(c.startedAt) - ms(p.finishedAt));
  }
  return {
    part: 'chain',
    jobs: CHAIN,
    wallMs,
    endToEndMs: ms(lastRun.finishedAt) - ms(runs.get(jobs[0].id)?.startedAt ?? null),
    finishToStart: stats(gaps),
  };
}

async function fanIn(api: Api, tag: string): Promise<Record<string, unknown>> {
  const every = '*/20 * * * * *';
  const parents: Job[] = [];
  for (let i = 0; i < FANIN; i++) {
    parents.push(
      await api.createJob({ name: `${tag}-fan-${i}`, cron: NEVER, type: 'shell', command: 'true', concurrency: 'allow' }),
    );
  }
  const child = await api.createJob({
    name: `${tag}-fan-child`,
    cron: '',
    type: 'shell',
    command: 'true',
    concurrency: 'allow',
    dependsOn: parents.map((p) => ({ jobId: p.id, on: 'success' })),
  });
  for (const p of parents) await api.call('PATCH', `/api/jobs/${p.id}`, { cron: every }, 200);
  const childRuns = await waitFor(
    async () => {
      const runs = (await listAll(api, child.id)).filter((r) => r.trigger === 'dependency' && r.startedAt);
      return runs.length >= OCCASIONS ? runs : undefined;
    },
    { timeoutMs: (OCCASIONS + 3) * 20_000 + 60_000, what: `${OCCASIONS} fan-in runs`, intervalMs: 1000 },
  );
  for (const p of parents) await api.call('PATCH', `/api/jobs/${p.id}`, { cron: NEVER }, 200);
  const gaps: number[] = [];
  for (const r of childRuns.slice(0, OCCASIONS)) {
    const d = (await api.call<Detail>('GET', `/api/runs/${r.id}`, undefined, 200)).body;
    // A few at a time: the API answers 503 when its read pool's queue is full (100 reads at once fill it).
    const ups: Run[] = [];
    for (let i = 0; i < d.parentRunIds.length; i += 8) {
      ups.push(...(await Promise.all(d.parentRunIds.slice(i, i + 8).map((id) => api.run(id)))));
    }
    if (ups.length !== FANIN) throw new Error(`fan-in run ${r.id} has ${ups.length} parent runs, not ${FANIN}`);
    gaps.push(ms(r.startedAt) - Math.max(...ups.map((u) => ms(u.finishedAt))));
  }
  return { part: 'fan-in', parents: FANIN, occasions: gaps.length, lastFinishToStart: stats(gaps) };
}

async function system(name: string): Promise<void> {
  let env: Record<string, string>;
  let drop: () => Promise<void> = () => Promise.resolve();
  const executorPort = await freePort();
  // Embedded: static discovery of the one executor; cluster: etcd.
  if (name === 'embedded') env = { ...(await sqliteEnv('bench-deps')), GOCRON_EXECUTOR_STATIC_TARGETS: `127.0.0.1:${executorPort}` };
  else {
    const db = await createMysqlDatabase('bench_deps');
    drop = () => db.drop();
    env = { ...db.env, ...redisEnv('bench-deps'), ...etcdEnv('bench-deps') };
  }
  try {
    // The harness reads every job's runs: past the API's default rate limit (100/s, burst 1,000) for 1,000 jobs.
    const d = await startDispatcher(
      { ...env, GOCRON_LOG_LEVEL: 'warn', GOCRON_DISPATCHER_RATE_LIMIT: '1000000', GOCRON_DISPATCHER_RATE_BURST: '10000000' },
      `bench-d1`,
    );
    await startExecutor({ ...env, GOCRON_LOG_LEVEL: 'warn' }, `bench-e1`, executorPort);
    const api = new Api(d.base);
    await waitFor(async () => (await api.call<unknown[]>('GET', '/api/executors', undefined, 200)).body.length === 1, {
      timeoutMs: 30_000,
      what: 'the executor listed',
    });
    const tag = `${name}-${Date.now()}`;
    if (CHAIN > 0) process.stdout.write(`${JSON.stringify({ system: name, ...(await chain(api, tag)) })}\n`);
    if (FANIN > 0) process.stdout.write(`${JSON.stringify({ system: name, ...(await fanIn(api, tag)) })}\n`);
  } finally {
    await stopAllApps();
    await drop();
  }
}

async function main(): Promise<void> {
  for (const s of SYSTEMS) await system(s);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});

// A dependency run's context through the executor's real path, on both ledgers: parent runs finished with their
// output, a child's run and its run_links rows as the dispatcher writes them, then TasksService.startMany → the
// ledger's compare-and-set → TaskLauncher → the shell or HTTP runner → the result recorded in the ledger. The shell
// child prints what it was given; the HTTP child calls a server of the test's, which keeps the headers it got. Only
// the admission gates (schema watch, draining) are stand-ins.
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DataSource } from 'typeorm';
import { SecretBox } from '@app/common';
import type { AppConfig } from '@app/config';
import {
  dataSourceOptions,
  JobEntity,
  JobsRepository,
  LedgerKey,
  migrate,
  NewJob,
  ParentRunsRepository,
  RunBatchRepository,
  RunEntity,
  RunLinksRepository,
  RunResult,
  RunsRepository,
} from '@app/persistence';
import type { RunRequest } from '@app/protocol';
import { mysqlDialect, sqliteDialect } from '../../../../test/support/ledger-dialects';
import { pendingRun, shellJob } from '../../../../test/support/ledger-rows';
import { waitFor } from '../../../../test/support/wait';
import { ActiveRuns } from './active-runs';
import type { DispatcherEndpoints } from './dispatcher-endpoints';
import { JobCache } from './job-cache';
import type { LedgerWatch } from './ledger-watch.service';
import { ParentContexts } from './parent-contexts';
import type { Presence } from './presence.service';
import { SecretOpener } from './secret-opener';
import { TaskLauncher } from './task-launcher';
import { TasksService } from './tasks.service';

/** A whole second a minute ago: the parents' tick, and their children's. */
const T = Math.floor(Date.now() / 1000) * 1000 - 60_000;
const GROUP = 'deps';
const WAIT = { timeoutMs: 20_000, intervalMs: 25 };
const config = {
  executor: { id: 'exec-deps', group: GROUP, capacity: 8, advertise: '127.0.0.1:1', httpAllow: [], httpDeny: [] },
} as unknown as AppConfig;

/**
 * A parent's stored output: far over 4 KiB, the 4 KiB mark one byte before the end of a '€', a NUL inside the tail
 * (SQLite's text functions stop at a NUL: a tail cut as text would be taken before it), multi-byte text to the end.
 */
const TAIL_KEPT = 'a\0b' + 'é'.repeat(2046); // 4095 bytes
const PARENT_OUTPUT = 'HEAD\0' + 'x'.repeat(20_000) + '€' + TAIL_KEPT;
const TAIL_TOLD = 'ab' + 'é'.repeat(2046);

describe.each([{ dialect: sqliteDialect() }, { dialect: mysqlDialect() }])(
  "a dependency run's parent context on $dialect.name",
  ({ dialect }) => {
    let ds: DataSource;
    let runs: RunsRepository;
    let batch: RunBatchRepository;
    let jobs: JobsRepository;
    let links: RunLinksRepository;
    let parentRuns: ParentRunsRepository;
    let active: ActiveRuns;
    let tasks: TasksService;
    let server: Server;
    let hookUrl: string;
    const calls: IncomingHttpHeaders[] = [];

    beforeAll(async () => {
      ds = new DataSource(dataSourceOptions(await dialect.fresh()));
      await ds.initialize();
      await migrate(ds);
      runs = new RunsRepository(ds);
      batch = new RunBatchRepository(ds);
      jobs = new JobsRepository(ds);
      links = new RunLinksRepository(ds);
      parentRuns = new ParentRunsRepository(ds);
      active = new ActiveRuns();
      const noDispatchers = { list: () => [] } as unknown as DispatcherEndpoints;
      tasks = new TasksService(
        config,
        batch,
        new JobCache(jobs),
        active,
        new TaskLauncher(config, runs, batch, active, noDispatchers),
        { draining: false } as Presence,
        { notReadyReason: () => null } as unknown as LedgerWatch,
        new SecretOpener(new SecretBox(Buffer.alloc(32, 7))),
        new ParentContexts(links, parentRuns),
      );
      server = createServer((req, res) => {
        calls.push(req.headers);
        res.end('called');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    });

    afterEach(() => jest.restoreAllMocks());

    afterAll(async () => {
      await new Promise((resolve) => server?.close(resolve));
      await ds?.destroy();
      await dialect.cleanup();
    });

    const keyOf = (r: RunEntity): LedgerKey => ({
      id: r.id,
      jobId: r.jobId,
      tickKey: r.tickKey,
      attempt: r.attempt,
      executorKey: r.executorKey,
      scheduledAt: r.scheduledAt,
    });

    async function createJob(name: string, over: Partial<NewJob> = {}): Promise<JobEntity> {
      return jobs.create(shellJob(`${dialect.name}-${name}`, GROUP, T, over));
    }

    async function claim(jobId: number, tickKey: string, over: Parameters<typeof pendingRun>[3] = {}) {
      const [id] = await batch.claimMany([pendingRun(jobId, tickKey, T, { deadlineAt: T + 86_400_000, ...over })]);
      return (await runs.findById(id!))!;
    }

    /** A parent run that ran elsewhere and finished with `result`. */
    async function finishedRun(jobId: number, executorKey: string, result: Omit<RunResult, 'finishedAt'>) {
      const run = await claim(jobId, String(T / 1000), { executorKey });
      expect((await batch.markRunningMany([keyOf(run)], 'other-exec', '127.0.0.1:2')).started.has(run.id)).toBe(true);
      expect(await runs.finish(run.id, { ...result, finishedAt: T + 1000 })).toBe(true);
      return run;
    }

    const requestFor = (r: RunEntity): RunRequest => ({
      runId: r.id,
      jobId: r.jobId,
      jobVersion: 1,
      scheduledAt: new Date(r.scheduledAt).toISOString(),
      attempt: r.attempt,
      tickKey: r.tickKey,
      executorKey: r.executorKey,
      timeoutMs: 0,
      dispatcherId: 'd1',
      retry: null,
    });

    /** Starts `run` through the executor and answers its row once its result is recorded and its slot free. */
    async function runThrough(run: RunEntity): Promise<RunEntity> {
      const [outcome] = await tasks.startMany([requestFor(run)]);
      expect(outcome).toMatchObject({ accepted: true });
      const row = await waitFor(
        async () => {
          const r = await runs.findById(run.id);
          return r && !['pending', 'running'].includes(r.status) && !active.has(run.id) && r;
        },
        { ...WAIT, what: `run ${run.id} is recorded` },
      );
      return row;
    }

    it('gives a shell child every parent run id and, per parent job, its exit code, HTTP status and output tail', async () => {
      const shellParent = await createJob('shell-parent');
      const httpParent = await createJob('broadcast-http-parent', { routing: 'broadcast' });
      const a = await finishedRun(shellParent.id, '', { status: 'failed', exitCode: 3, output: PARENT_OUTPUT });
      // A broadcast parent: two runs of one job; the higher id speaks for the job.
      const b1 = await finishedRun(httpParent.id, 'e1', { status: 'succeeded', httpStatus: 200, output: 'first' });
      const b2 = await finishedRun(httpParent.id, 'e2', { status: 'failed', httpStatus: 503, output: 'second' });
      const [A, B] = [shellParent.id, httpParent.id];
      const child = await createJob('shell-child', {
        command: [
          `printf 'ids=%s\\n' "$GOCRON_PARENT_RUN_IDS"`,
          `printf 'exitA=%s httpA=%s\\n' "\${GOCRON_PARENT_EXIT_CODE_${A}-unset}" "\${GOCRON_PARENT_HTTP_STATUS_${A}-unset}"`,
          `printf 'exitB=%s httpB=%s outB=%s\\n' "\${GOCRON_PARENT_EXIT_CODE_${B}-unset}" "\${GOCRON_PARENT_HTTP_STATUS_${B}-unset}" "$GOCRON_PARENT_OUTPUT_${B}"`,
          `printf 'forged=%s\\n' "\${GOCRON_PARENT_EXIT_CODE_999-unset}"`,
          `printf 'outA=%s' "$GOCRON_PARENT_OUTPUT_${A}"`,
        ].join('; '),
        // A job can not stand in for its parents.
        env: { [`GOCRON_PARENT_OUTPUT_${A}`]: 'forged', GOCRON_PARENT_EXIT_CODE_999: '0', GOCRON_PARENT_RUN_IDS: '1' },
        dependsOn: [
          { jobId: A, on: 'always' },
          { jobId: B, on: 'always' },
        ],
      });
      const tickKey = `dep:all:${T}`;
      expect(
        await links.reserve(
          child.id,
          tickKey,
          [
            { runId: b2.id, jobId: B },
            { runId: a.id, jobId: A },
            { runId: b1.id, jobId: B },
          ],
          { exclusive: true },
        ),
      ).toEqual({ kind: 'reserved' });
      const run = await claim(child.id, tickKey, { trigger: 'dependency' });

      const done = await runThrough(run);

      expect(done.status).toBe('succeeded');
      expect(done.output).toBe(
        [
          `ids=${[a.id, b1.id, b2.id].join(',')}`,
          'exitA=3 httpA=unset',
          'exitB=unset httpB=503 outB=second',
          'forged=unset',
          `outA=${TAIL_TOLD}`,
        ].join('\n'),
      );
    });

    it('sends an HTTP child X-Gocron-Parent-Run-Ids, which the job can not set itself', async () => {
      const parent = await createJob('parent-of-hook');
      const p = await finishedRun(parent.id, '', { status: 'succeeded', exitCode: 0, output: 'fine' });
      const child = await createJob('hook-child', {
        type: 'http',
        command: null,
        http: {
          method: 'POST',
          url: hookUrl,
          headers: { 'x-gocron-parent-run-ids': 'forged' },
          body: '',
          expectStatus: [],
        },
        dependsOn: [{ jobId: parent.id, on: 'success' }],
      });
      const tickKey = `dep:${parent.id}:${p.tickKey}`;
      await links.reserve(child.id, tickKey, [{ runId: p.id, jobId: parent.id }], { exclusive: false });
      const run = await claim(child.id, tickKey, { trigger: 'dependency' });
      calls.length = 0;

      const done = await runThrough(run);

      expect(done).toMatchObject({ status: 'succeeded', httpStatus: 200 });
      expect(calls.map((h) => [h['x-gocron-run-id'], h['x-gocron-parent-run-ids']])).toEqual([
        [String(run.id), String(p.id)],
      ]);
    });

    it('reads nothing more for a run that is no dependency run, and tells it of no parent', async () => {
      const job = await createJob('plain', { command: `env | grep -c '^GOCRON_PARENT_' || true` });
      const linkReads = jest.spyOn(links, 'parentRunIdsOf');
      const rowReads = jest.spyOn(parentRuns, 'tailsOf');
      const run = await claim(job.id, 'manual:one', { trigger: 'manual' });

      const done = await runThrough(run);

      expect(done).toMatchObject({ status: 'succeeded', output: '0\n' });
      expect(linkReads).not.toHaveBeenCalled();
      expect(rowReads).not.toHaveBeenCalled();
    });

    it('reads a batch of dependency runs in one query for the links and one for the parent rows', async () => {
      const parent = await createJob('fan-out-parent');
      const p = await finishedRun(parent.id, '', { status: 'succeeded', exitCode: 0, output: 'to all' });
      const children = await Promise.all(
        [1, 2, 3].map((i) =>
          createJob(`fan-out-child-${i}`, { command: `printf '%s' "$GOCRON_PARENT_OUTPUT_${parent.id}"` }),
        ),
      );
      const tickKey = `dep:${parent.id}:${p.tickKey}`;
      const childRuns: RunEntity[] = [];
      for (const c of children) {
        await links.reserve(c.id, tickKey, [{ runId: p.id, jobId: parent.id }], { exclusive: false });
        childRuns.push(await claim(c.id, tickKey, { trigger: 'dependency' }));
      }
      const linkReads = jest.spyOn(links, 'parentRunIdsOf');
      const rowReads = jest.spyOn(parentRuns, 'tailsOf');
      const queries = jest.spyOn(ds, 'query');

      const outcomes = await tasks.startMany(childRuns.map(requestFor));
      expect(outcomes.map((o) => o.accepted)).toEqual([true, true, true]);
      expect(linkReads).toHaveBeenCalledTimes(1);
      expect(rowReads).toHaveBeenCalledTimes(1);
      expect(rowReads.mock.calls[0][0]).toEqual([p.id]);
      const parentQueries = queries.mock.calls.filter(([sql]) => /run_links|CAST\(output/.test(String(sql)));
      expect(parentQueries).toHaveLength(2);
      for (const r of childRuns) {
        const row = await waitFor(
          async () => {
            const x = await runs.findById(r.id);
            return x?.status === 'succeeded' && !active.has(r.id) && x;
          },
          { ...WAIT, what: `child run ${r.id} succeeds` },
        );
        expect(row.output).toBe('to all');
      }
    });
  },
);

// Issue 15, the API side on both dialects: graph edits are serialised (concurrent PATCHes that would each add half of
// a cycle never both succeed), parents must exist, cycles and chains past the depth limit are refused naming them,
// a parent can not be deleted without force (which detaches and pauses), and jobs and runs read their neighbours.
import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { SecretBox } from '@app/common';
import {
  ApiReads,
  dataSourceOptions,
  JobGraphRepository,
  JobsRepository,
  migrate,
  RunLinksRepository,
  RunsRepository,
} from '@app/persistence';
import { mysqlDialect, sqliteDialect } from '../../../../test/support/ledger-dialects';
import { shellJob } from '../../../../test/support/ledger-rows';
import { DomainError } from '../common/domain-error';
import type { EventsService } from '../events/events.service';
import type { RunCanceller } from '../launching/run-canceller.service';
import type { RunLauncher } from '../launching/run-launcher.service';
import { RunsService } from '../runs/runs.service';
import type { SchedulerService } from '../scheduling/scheduler.service';
import type { CreateJobDto } from './dto/create-job.dto';
import { JobsService } from './jobs.service';

const YEARLY = '0 0 1 1 *';
const ROUNDS = 25;

const shell = (name: string, over: Partial<CreateJobDto> = {}): CreateJobDto => ({
  name,
  cron: YEARLY,
  type: 'shell',
  command: 'true',
  ...over,
});
const on = (jobId: number, cond: 'success' | 'failure' | 'always' = 'success') => ({ jobId, on: cond });

/** The DomainError a call failed with (a failure when it succeeded). */
async function refusal(call: Promise<unknown>): Promise<DomainError> {
  try {
    await call;
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
  }
  throw new Error('the call succeeded');
}

describe.each([{ dialect: sqliteDialect() }, { dialect: mysqlDialect() }])(
  'the dependency graph on $dialect.name',
  ({ dialect }) => {
    let ds: DataSource;
    let service: JobsService;
    let runsService: RunsService;
    let runs: RunsRepository;
    let links: RunLinksRepository;
    const scheduler = { changed: jest.fn(() => Promise.resolve()), deleted: jest.fn(() => Promise.resolve()) };

    beforeAll(async () => {
      Logger.overrideLogger(['warn', 'error']);
      ds = new DataSource(dataSourceOptions(await dialect.fresh()));
      await ds.initialize();
      await migrate(ds);
      const jobs = new JobsRepository(ds);
      runs = new RunsRepository(ds);
      links = new RunLinksRepository(ds);
      const reads = new ApiReads(ds);
      service = new JobsService(
        jobs,
        runs,
        reads,
        scheduler as unknown as SchedulerService,
        { offer: jest.fn(() => Promise.resolve()) } as unknown as RunLauncher,
        { cancel: jest.fn(() => Promise.resolve({ kind: 'cancelled' })) } as unknown as RunCanceller,
        { jobChanged: jest.fn(), runChanged: jest.fn() } as unknown as EventsService,
        new SecretBox(Buffer.alloc(32, 1)),
        new JobGraphRepository(ds, jobs),
        links,
      );
      runsService = new RunsService(runs, reads, {} as RunCanceller, links);
    });

    afterAll(async () => {
      if (ds?.isInitialized) await ds.destroy();
      await dialect.cleanup();
    });

    /** Every stored edge, and a failure unless `depends_on` and `job_dependencies` say the same. */
    async function storedEdges(): Promise<[number, number][]> {
      const rows = await ds.query<{ child_id: number | string; parent_id: number | string }[]>(
        'SELECT child_id, parent_id FROM job_dependencies ORDER BY child_id, parent_id',
      );
      const edges = rows.map((r): [number, number] => [Number(r.parent_id), Number(r.child_id)]);
      const jobs = await ds.query<{ id: number | string; depends_on: string | null }[]>(
        'SELECT id, depends_on FROM jobs ORDER BY id',
      );
      const fromJson = jobs
        .flatMap((j) =>
          ((j.depends_on ? JSON.parse(j.depends_on) : []) as { jobId: number }[]).map((d) => [d.jobId, Number(j.id)]),
        )
        .sort((a, b) => a[1] - b[1] || a[0] - b[0]);
      expect(fromJson).toEqual(edges);
      return edges;
    }

    /** Whether the edges have a cycle (Kahn: a graph is acyclic when every node can be peeled off). */
    function hasCycle(edges: [number, number][]): boolean {
      const indegree = new Map<number, number>();
      const out = new Map<number, number[]>();
      for (const [p, c] of edges) {
        indegree.set(c, (indegree.get(c) ?? 0) + 1);
        if (!indegree.has(p)) indegree.set(p, 0);
        out.set(p, [...(out.get(p) ?? []), c]);
      }
      const free = [...indegree].filter(([, n]) => n === 0).map(([id]) => id);
      let peeled = 0;
      while (free.length > 0) {
        const id = free.pop()!;
        peeled++;
        for (const c of out.get(id) ?? []) {
          indegree.set(c, indegree.get(c)! - 1);
          if (indegree.get(c) === 0) free.push(c);
        }
      }
      return peeled < indegree.size;
    }

    it('lets exactly one of two concurrent PATCHes that close a cycle succeed, every round', async () => {
      const refusals: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const a = await service.create(shell(`pair-a-${round}`));
        const b = await service.create(shell(`pair-b-${round}`));
        const outcomes = await Promise.allSettled([
          service.update(a.id, { dependsOn: [on(b.id)] }),
          service.update(b.id, { dependsOn: [on(a.id)] }),
        ]);
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
        const refused = outcomes.find((o) => o.status === 'rejected')!;
        expect(refused.reason).toBeInstanceOf(DomainError);
        refusals.push((refused.reason as DomainError).message);
      }
      for (const message of refusals) expect(message).toMatch(/^dependsOn: cycle job \d+ \(pair-.-\d+\) → /);
      expect(hasCycle(await storedEdges())).toBe(false);
    });

    it('lets at most two of three concurrent PATCHes around a triangle succeed', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const [x, y, z] = await Promise.all(['x', 'y', 'z'].map((n) => service.create(shell(`tri-${n}-${round}`))));
        const outcomes = await Promise.allSettled([
          service.update(x.id, { dependsOn: [on(z.id)] }),
          service.update(y.id, { dependsOn: [on(x.id)] }),
          service.update(z.id, { dependsOn: [on(y.id)] }),
        ]);
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(2);
      }
      expect(hasCycle(await storedEdges())).toBe(false);
    });

    it('refuses a cycle at update naming it, a missing parent, and the job itself', async () => {
      const a = await service.create(shell('cyc-a'));
      const b = await service.create(shell('cyc-b', { cron: '', dependsOn: [on(a.id)] }));
      const c = await service.create(shell('cyc-c', { cron: '', dependsOn: [on(b.id, 'always')] }));
      const cycle = await refusal(service.update(a.id, { dependsOn: [on(c.id)] }));
      expect(cycle.code).toBe('INVALID');
      expect(cycle.message).toBe(
        `dependsOn: cycle job ${c.id} (cyc-c) → job ${a.id} (cyc-a) → job ${b.id} (cyc-b) → job ${c.id} (cyc-c)`,
      );
      const missing = await refusal(service.create(shell('orphan', { dependsOn: [on(a.id), on(99_999_999)] })));
      expect(missing.message).toBe('dependsOn: no job 99999999 (a parent must exist)');
      expect(await service.list({ limit: 500, offset: 0, q: 'orphan' })).toMatchObject({ total: 0 });
      const self = await refusal(service.update(b.id, { dependsOn: [on(b.id)] }));
      expect(self.message).toBe(`dependsOn: job ${b.id} can not depend on itself`);
      // Nothing of the refused changes was stored.
      expect((await service.get(a.id)).dependsOn).toEqual([]);
      expect((await service.get(b.id)).dependsOn).toEqual([on(a.id)]);
    });

    it('refuses a job with neither a cron nor parents, and removing the last parent of a job without a cron', async () => {
      const noneAtAll = await refusal(service.create(shell('nothing', { cron: '' })));
      expect(noneAtAll.message).toBe('a job needs a cron expression or dependsOn');
      expect((await refusal(service.create(shell('nothing2', { cron: undefined })))).message).toBe(
        'a job needs a cron expression or dependsOn',
      );
      const p = await service.create(shell('rm-p'));
      const child = await service.create(shell('rm-c', { cron: '', dependsOn: [on(p.id)] }));
      expect(child).toMatchObject({ cron: '', nextRunAt: null, dependsOn: [on(p.id)] });
      for (const dependsOn of [[], null]) {
        expect((await refusal(service.update(child.id, { dependsOn }))).message).toBe(
          'a job needs a cron expression or dependsOn',
        );
      }
      // With a cron it may drop them: stored as NULL, its edges gone.
      const dropped = await service.update(child.id, { dependsOn: [], cron: YEARLY });
      expect(dropped.dependsOn).toEqual([]);
      expect(dropped.nextRunAt).not.toBeNull();
      const [row] = await ds.query<{ depends_on: string | null }[]>('SELECT depends_on FROM jobs WHERE id = ?', [
        child.id,
      ]);
      expect(row.depends_on).toBeNull();
      expect((await storedEdges()).filter(([, c]) => c === child.id)).toEqual([]);
    });

    it('refuses a chain longer than 1,000 jobs, naming its length', async () => {
      const jobs = new JobsRepository(ds);
      const now = Date.now();
      const ids: number[] = [];
      for (let i = 0; i < 1000; i++) ids.push((await jobs.create(shellJob(`chain-${i}`, 'default', now), now)).id);
      // The chain's edges straight into the table (the check reads them there).
      for (let i = 1; i < ids.length; i += 200) {
        const part = ids.slice(i, i + 200);
        await ds.query(
          `INSERT INTO job_dependencies (child_id, parent_id, on_cond) VALUES ${part.map(() => "(?, ?, 'success')").join(', ')}`,
          part.flatMap((id, k) => [id, ids[i + k - 1]]),
        );
        for (const [k, id] of part.entries()) {
          await ds.query('UPDATE jobs SET depends_on = ? WHERE id = ?', [JSON.stringify([on(ids[i + k - 1])]), id]);
        }
      }
      const deep = await refusal(service.create(shell('chain-1000', { dependsOn: [on(ids[999])] })));
      expect(deep.message).toBe(
        'dependsOn: the longest chain of jobs through this one would be 1001 jobs, at most 1000',
      );
      // 1,000 through it is fine: a fork off the 999th.
      const fork = await service.create(shell('chain-fork', { dependsOn: [on(ids[998])] }));
      expect(fork.dependsOn).toEqual([on(ids[998])]);
      // And a head put above the chain is refused the same way.
      const head = await service.create(shell('chain-head'));
      expect((await refusal(service.update(ids[0], { dependsOn: [on(head.id)] }))).message).toMatch(
        /would be 1001 jobs/,
      );
      await storedEdges();
    });

    it('answers a parent delete with 409 naming its children; force detaches them and pauses those left with nothing', async () => {
      const p = await service.create(shell('del-p'));
      const q = await service.create(shell('del-q'));
      const only = await service.create(shell('del-only', { cron: '', dependsOn: [on(p.id)] }));
      const both = await service.create(shell('del-both', { cron: '', dependsOn: [on(p.id), on(q.id, 'failure')] }));
      const timed = await service.create(shell('del-timed', { dependsOn: [on(p.id, 'always')] }));
      expect((await service.get(p.id)).children).toEqual([
        { jobId: only.id, name: 'del-only', on: 'success', enabled: true },
        { jobId: both.id, name: 'del-both', on: 'success', enabled: true },
        { jobId: timed.id, name: 'del-timed', on: 'always', enabled: true },
      ]);
      const conflict = await refusal(service.remove(p.id));
      expect(conflict.code).toBe('CONFLICT');
      expect(conflict.message).toMatch(
        new RegExp(
          `^job ${p.id} is a parent of job ${only.id} \\(del-only\\), job ${both.id} \\(del-both\\), job ${timed.id} \\(del-timed\\)`,
        ),
      );
      expect(await service.get(p.id)).toMatchObject({ id: p.id });

      // A run link of the parent, to see it go with it.
      const parentRun = (await runs.claim({
        jobId: p.id,
        tickKey: 'tick:1',
        attempt: 1,
        scheduledAt: 1000,
        trigger: 'schedule',
        status: 'pending',
        deadlineAt: 61_000,
        dispatcherId: null,
      }))!;
      await links.reserve(only.id, `dep:${p.id}:tick:1`, [{ runId: parentRun.id, jobId: p.id }], { exclusive: false });
      scheduler.changed.mockClear();
      const before = Date.now();
      const detached = await service.remove(p.id, true);
      expect(detached.sort((x, y) => x - y)).toEqual([only.id, both.id, timed.id]);
      await expect(service.get(p.id)).rejects.toThrow(/not found/);
      const [o, b, t] = await Promise.all([only, both, timed].map((j) => service.get(j.id)));
      expect(o).toMatchObject({ enabled: false, dependsOn: [], version: only.version + 1 });
      expect(b).toMatchObject({ enabled: true, dependsOn: [on(q.id, 'failure')], version: both.version + 1 });
      expect(t).toMatchObject({ enabled: true, dependsOn: [], version: timed.version + 1, cron: YEARLY });
      for (const j of [o, b, t]) expect(Date.parse(j.updatedAt)).toBeGreaterThanOrEqual(before);
      expect((await storedEdges()).filter(([parent]) => parent === p.id)).toEqual([]);
      expect(await links.childrenOf(parentRun.id)).toEqual([]);
      const tombstones = await ds.query<unknown[]>('SELECT job_id FROM job_tombstones WHERE job_id = ?', [p.id]);
      expect(tombstones).toHaveLength(1);
      // Every dispatcher hears of the changed children (this one at once, the others by their change feed).
      expect(
        scheduler.changed.mock.calls.map((c: unknown[]) => (c[0] as { id: number }).id).sort((x, y) => x - y),
      ).toEqual([only.id, both.id, timed.id]);
      expect(scheduler.deleted).toHaveBeenCalledWith(p.id);
      await expect(service.remove(p.id, true)).rejects.toThrow(/not found/);
    });

    it('reads the graph around a job: ancestors, descendants, levels and edges; 404 for an unknown job', async () => {
      const a = await service.create(shell('g-a'));
      const b = await service.create(shell('g-b'));
      const c = await service.create(
        shell('g-c', { cron: '', dependsOn: [on(a.id), on(b.id, 'failure')], dependencyMode: 'any' }),
      );
      const d = await service.create(shell('g-d', { cron: '', dependsOn: [on(c.id)] }));
      const e = await service.create(shell('g-e', { cron: '', dependsOn: [on(d.id, 'always'), on(a.id)] }));
      const g = await service.graphOf(c.id);
      expect(g.truncated).toBe(false);
      expect(g.nodes.map((n) => [n.name, n.level])).toEqual([
        ['g-a', -1],
        ['g-b', -1],
        ['g-c', 0],
        ['g-d', 1],
        ['g-e', 2],
      ]);
      expect(g.nodes.find((n) => n.id === c.id)).toMatchObject({ cron: '', dependencyMode: 'any', enabled: true });
      expect(g.edges).toEqual(
        [
          { parentId: a.id, childId: c.id, on: 'success' },
          { parentId: a.id, childId: e.id, on: 'success' },
          { parentId: b.id, childId: c.id, on: 'failure' },
          { parentId: c.id, childId: d.id, on: 'success' },
          { parentId: d.id, childId: e.id, on: 'always' },
        ].sort((x, y) => x.parentId - y.parentId || x.childId - y.childId),
      );
      await expect(service.graphOf(99_999_999)).rejects.toThrow(/not found/);
      // The list shows each job's parents and children from one read for the page.
      const page = await service.list({ limit: 500, offset: 0, q: 'g-' });
      const byName = new Map(page.items.map((j) => [j.name, j]));
      expect(byName.get('g-a')).toMatchObject({
        dependsOn: [],
        dependencyMode: 'all',
        dependencyWindowMs: 3_600_000,
        children: [
          { jobId: c.id, name: 'g-c', on: 'success', enabled: true },
          { jobId: e.id, name: 'g-e', on: 'success', enabled: true },
        ],
      });
      expect(byName.get('g-e')).toMatchObject({ dependsOn: [on(d.id, 'always'), on(a.id)], children: [] });
    });

    it('marks a cascading manual run so that its finish may start children, and a plain one so that it can not', async () => {
      const p = await service.create(shell('trig-p'));
      const plain = await service.trigger(p.id);
      const cascading = await service.trigger(p.id, true);
      const keyOf = async (id: number) =>
        (
          await ds.query<{ tick_key: string; trigger: string }[]>('SELECT tick_key, `trigger` FROM runs WHERE id = ?', [
            id,
          ])
        )[0];
      expect(await keyOf(plain.runId)).toMatchObject({
        trigger: 'manual',
        tick_key: expect.stringMatching(/^manual:[0-9a-f-]{36}$/) as string,
      });
      expect(await keyOf(cascading.runId)).toMatchObject({
        trigger: 'manual',
        tick_key: expect.stringMatching(/^cascade:[0-9a-f-]{36}$/) as string,
      });
    });

    it("shows a run's parent runs, upstream and downstream", async () => {
      const p = await service.create(shell('runs-p'));
      const c = await service.create(shell('runs-c', { cron: '', dependsOn: [on(p.id)] }));
      const parentRun = (await runs.claim({
        jobId: p.id,
        tickKey: 'tick:5000',
        attempt: 1,
        scheduledAt: 5000,
        trigger: 'schedule',
        status: 'pending',
        deadlineAt: 65_000,
        dispatcherId: null,
      }))!;
      expect(await runs.finish(parentRun.id, { status: 'succeeded', finishedAt: 6000, exitCode: 0 }, ['pending'])).toBe(
        true,
      );
      const childKey = `dep:${p.id}:tick:5000`;
      await links.reserve(c.id, childKey, [{ runId: parentRun.id, jobId: p.id }], { exclusive: false });
      const childRun = (await runs.claim({
        jobId: c.id,
        tickKey: childKey,
        attempt: 1,
        scheduledAt: 6000,
        trigger: 'dependency',
        status: 'pending',
        deadlineAt: 66_000,
        dispatcherId: null,
      }))!;
      const retry = (await runs.claim({
        jobId: c.id,
        tickKey: childKey,
        attempt: 2,
        scheduledAt: 6000,
        trigger: 'retry',
        status: 'pending',
        deadlineAt: 66_000,
        dispatcherId: null,
      }))!;
      const child = await runsService.get(childRun.id);
      expect(child.parentRunIds).toEqual([parentRun.id]);
      expect(child.upstream).toEqual([
        {
          id: parentRun.id,
          jobId: p.id,
          jobName: 'runs-p',
          status: 'succeeded',
          scheduledAt: new Date(5000).toISOString(),
          finishedAt: new Date(6000).toISOString(),
        },
      ]);
      expect(child.downstream).toEqual([]);
      // Downstream: the newest attempt of the child's occasion.
      const parent = await runsService.get(parentRun.id);
      expect(parent.parentRunIds).toEqual([]);
      expect(parent.upstream).toEqual([]);
      expect(parent.downstream).toEqual([
        {
          id: retry.id,
          jobId: c.id,
          jobName: 'runs-c',
          status: 'pending',
          scheduledAt: new Date(6000).toISOString(),
          finishedAt: null,
        },
      ]);
      // A list: every run has parentRunIds, the retry shares its first attempt's.
      const list = await runsService.list({ limit: 50, offset: 0, jobId: c.id });
      expect(list.items.map((r) => [r.id, r.parentRunIds])).toEqual([
        [retry.id, [parentRun.id]],
        [childRun.id, [parentRun.id]],
      ]);
      expect((await runsService.list({ limit: 50, offset: 0, jobId: p.id })).items.map((r) => r.parentRunIds)).toEqual([
        [],
      ]);
    });
  },
);

import type { AppConfig } from '@app/config';
import type { TickLock } from '@app/locking';
import type {
  ActiveRunRow,
  JobEntity,
  NewRun,
  RunBatchRepository,
  RunEntity,
  RunsRepository,
  SkipExtension,
} from '@app/persistence';
import { tickRef } from '@app/persistence';
import type { ExecutorPool } from '../executor-client/executor-pool.service';
import type { EventsService } from '../events/events.service';
import type { RunCanceller } from '../launching/run-canceller.service';
import type { RunLauncher, RunToOffer } from '../launching/run-launcher.service';
import { TickClaimer } from './tick-claimer';

const T = 1_767_225_600_000; // 2026-01-01T00:00:00Z

function job(id: number, over: Partial<JobEntity> = {}): JobEntity {
  return { id, concurrency: 'forbid', routing: 'round_robin', timeoutMs: 60_000, group: 'g', ...over } as JobEntity;
}

/** Fakes of the claimer's collaborators that record what it asked for. */
function harness(opts: {
  held?: (key: string) => boolean;
  active?: Map<number, ActiveRunRow[]>;
  taken?: Set<number>;
  recorded?: Set<number>;
  executors?: string[];
  activeAfterClaim?: Partial<RunEntity>[];
  recordCheckFails?: Set<number>;
  cancelGate?: Promise<void>;
  /** The latest scheduledAt under a taken key, by job (default: the tick's own, T). */
  reach?: Map<number, number>;
  /** Records covering several ticks, by job. */
  ranges?: Map<number, [number, number][]>;
  /** What folding a skip into the previous tick's record comes to, by job (default: no record to fold into). */
  fold?: Map<number, 'extended' | 'taken' | 'absent'>;
}) {
  const calls = {
    acquired: [] as string[][],
    released: [] as string[][],
    inserted: [] as NewRun[][],
    offered: [] as RunToOffer[][],
    cancelled: [] as [number, string][],
    reachReads: 0,
    folded: [] as SkipExtension[][],
  };
  let nextId = 100;
  const lock: TickLock = {
    tryAcquireMany: (keys) => {
      calls.acquired.push(keys);
      return Promise.resolve(keys.map((k) => opts.held?.(k) ?? true));
    },
    releaseMany: (keys) => {
      calls.released.push(keys);
      return Promise.resolve();
    },
    health: () => Promise.resolve({ status: 'ok', detail: '' }),
  };
  const ledger = {
    findActiveOf: (ids: number[]) =>
      Promise.resolve(
        new Map([...(opts.active ?? new Map<number, ActiveRunRow[]>())].filter(([id]) => ids.includes(id))),
      ),
    skipRangesReaching: (ids: number[]) =>
      Promise.resolve(
        new Map([...(opts.ranges ?? new Map<number, [number, number][]>())].filter(([id]) => ids.includes(id))),
      ),
    extendSkips: (requests: SkipExtension[]) => {
      calls.folded.push(requests);
      return Promise.resolve(requests.map((r) => opts.fold?.get(r.jobId) ?? 'absent'));
    },
    claimMany: (rows: NewRun[]) => {
      calls.inserted.push(rows);
      return Promise.resolve(rows.map((r) => (opts.taken?.has(r.jobId) ? null : nextId++)));
    },
  } as unknown as RunBatchRepository;
  const runs = {
    tickHasRecord: (jobId: number) =>
      opts.recordCheckFails?.has(jobId)
        ? Promise.reject(new Error('read failed'))
        : Promise.resolve(opts.recorded?.has(jobId) ?? false),
    findActive: () => Promise.resolve(opts.activeAfterClaim ?? []),
    // The one read of how far the records under taken keys reach.
    reachOf: (keys: { jobId: number; tickKey: string }[]) => {
      calls.reachReads++;
      return Promise.resolve(
        new Map(
          keys
            .filter((k) => opts.taken?.has(k.jobId) || opts.recorded?.has(k.jobId))
            .map((k): [string, number] => [tickRef(k.jobId, k.tickKey), opts.reach?.get(k.jobId) ?? T]),
        ),
      );
    },
  } as unknown as RunsRepository;
  const launcher = {
    offer: (items: RunToOffer[]) => {
      calls.offered.push(items);
      return Promise.resolve(items.map(() => 'started' as const));
    },
  } as unknown as RunLauncher;
  const canceller = {
    cancel: async (run: { id: number }, reason: string) => {
      calls.cancelled.push([run.id, reason]);
      await opts.cancelGate;
    },
  } as unknown as RunCanceller;
  const pool = {
    broadcastTargets: () => (opts.executors ?? []).map((address) => ({ address })),
  } as unknown as ExecutorPool;
  const events = { runChanged: () => undefined } as unknown as EventsService;
  const config = { redis: { prefix: 'p' }, dispatcher: { id: 'd1' } } as AppConfig;
  const claimer = new TickClaimer(lock, config, ledger, runs, launcher, canceller, pool, events);
  return { claimer, calls };
}

const offeredIds = (calls: { offered: RunToOffer[][] }) => calls.offered.map((batch) => batch.map((o) => o.run.id));

describe('TickClaimer', () => {
  it('claims the ticks asked for in one turn with one lock call and one insert, and offers the pending runs', async () => {
    const { claimer, calls } = harness({});
    const answers = await Promise.all([1, 2, 3].map((id) => claimer.claimTick(job(id), T, 'schedule')));
    expect(answers).toEqual([{ kind: 'claimed' }, { kind: 'claimed' }, { kind: 'claimed' }]);
    expect(calls.acquired).toEqual([['p:lock:1:1767225600:1', 'p:lock:2:1767225600:1', 'p:lock:3:1767225600:1']]);
    expect(calls.inserted).toHaveLength(1);
    expect(calls.inserted[0].map((r) => [r.jobId, r.tickKey, r.status, r.scheduledAt, r.deadlineAt])).toEqual([
      [1, '1767225600', 'pending', T, T + 60_000],
      [2, '1767225600', 'pending', T, T + 60_000],
      [3, '1767225600', 'pending', T, T + 60_000],
    ]);
    expect(offeredIds(calls)).toEqual([[100, 101, 102]]);
    expect(calls.released).toEqual(calls.acquired);
  });

  it('answers held for ticks whose lock another dispatcher holds, and releases only the keys it took', async () => {
    const { claimer, calls } = harness({ held: (k) => !k.includes(':2:') });
    const answers = await Promise.all([1, 2].map((id) => claimer.claimTick(job(id), T, 'schedule')));
    expect(answers).toEqual([{ kind: 'claimed' }, { kind: 'held' }]);
    expect(calls.inserted[0].map((r) => r.jobId)).toEqual([1]);
    expect(calls.released).toEqual([['p:lock:1:1767225600:1']]);
  });

  it('records a forbid tick as skipped while a run of the job is active, and does nothing for a tick already run', async () => {
    const active = new Map<number, ActiveRunRow[]>([
      [1, [{ id: 7, jobId: 1, tickKey: '1767225599', status: 'running', scheduledAt: T - 1000 }]],
      [2, [{ id: 8, jobId: 2, tickKey: '1767225600', status: 'pending', scheduledAt: T }]],
    ]);
    const { claimer, calls } = harness({ active });
    const answers = await Promise.all([
      claimer.claimTick(job(1), T, 'schedule'),
      claimer.claimTick(job(2), T, 'schedule'),
      claimer.claimTick(job(3, { concurrency: 'allow' }), T, 'schedule'),
    ]);
    expect(answers).toEqual([{ kind: 'claimed' }, { kind: 'recorded', through: T }, { kind: 'claimed' }]);
    expect(calls.reachReads).toBe(0); // an active run of the tick is the tick's own: it reaches no further
    expect(calls.inserted[0].map((r) => [r.jobId, r.status, r.error ?? null])).toEqual([
      [1, 'skipped', 'run 7 of this job had not finished (concurrency: forbid)'],
      [3, 'pending', null],
    ]);
    expect(offeredIds(calls)).toEqual([[101]]); // the skipped record is not offered
  });

  it("folds a forbid skip into the previous tick's skip record, behind the same run, writing no row", async () => {
    const active = new Map<number, ActiveRunRow[]>(
      [1, 2, 3, 4].map((id) => [
        id,
        [{ id: 7 + id, jobId: id, tickKey: '1', status: 'running', scheduledAt: T - 9000 }],
      ]),
    );
    const fold = new Map<number, 'extended' | 'taken' | 'absent'>([
      [1, 'extended'],
      [2, 'taken'],
      [3, 'absent'],
    ]);
    const { claimer, calls } = harness({ active, fold });
    const answers = await Promise.all([
      claimer.claimTick(job(1), T, 'schedule', T - 1000),
      claimer.claimTick(job(2), T, 'schedule', T - 1000),
      claimer.claimTick(job(3), T, 'schedule', T - 1000),
      // Without a previous tick, and for a misfired tick, the skip is its own record.
      claimer.claimTick(job(4), T, 'schedule'),
    ]);
    expect(calls.folded).toEqual([
      [1, 2, 3].map((id) => ({
        jobId: id,
        prevKey: String((T - 1000) / 1000),
        tickKey: String(T / 1000),
        scheduledAt: T,
        reason: `run ${7 + id} of this job had not finished (concurrency: forbid)`,
      })),
    ]);
    // Folded: claimed. Its key taken by another record: recorded, read how far it reaches. No record: its own row.
    expect(answers).toEqual([
      { kind: 'claimed' },
      { kind: 'recorded', through: T },
      { kind: 'claimed' },
      { kind: 'claimed' },
    ]);
    expect(calls.reachReads).toBe(1);
    expect(calls.inserted[0].map((r) => [r.jobId, r.status])).toEqual([
      [3, 'skipped'],
      [4, 'skipped'],
    ]);
    expect(calls.offered).toEqual([]);
  });

  it('answers a tick inside a record of several ticks as recorded, writing nothing, even with no run active', async () => {
    const ranges = new Map<number, [number, number][]>([
      [1, [[T - 5000, T + 1000]]],
      [2, [[T - 5000, T - 1000]]], // ends before the tick: not covering
    ]);
    const { claimer, calls } = harness({ ranges });
    const answers = await Promise.all([1, 2].map((id) => claimer.claimTick(job(id), T, 'schedule', T - 1000)));
    expect(answers).toEqual([{ kind: 'recorded', through: T }, { kind: 'claimed' }]);
    expect(calls.inserted[0].map((r) => [r.jobId, r.status])).toEqual([[2, 'pending']]);
  });

  it('offers nothing for ticks another dispatcher inserted first', async () => {
    const { claimer, calls } = harness({ taken: new Set([1]) });
    expect(await Promise.all([1, 2].map((id) => claimer.claimTick(job(id), T, 'misfire')))).toEqual([
      { kind: 'recorded', through: T },
      { kind: 'claimed' },
    ]);
    expect(calls.inserted[0].map((r) => r.trigger)).toEqual(['misfire', 'misfire']);
    expect(offeredIds(calls)).toEqual([[100]]);
  });

  it('rejects every waiter of a batch whose insert failed, and still releases its locks', async () => {
    const { claimer, calls } = harness({});
    (claimer as unknown as { ledger: { claimMany: () => Promise<never> } }).ledger.claimMany = () =>
      Promise.reject(new Error('database is down'));
    const results = await Promise.allSettled([1, 2].map((id) => claimer.claimTick(job(id), T, 'schedule')));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(calls.released).toEqual(calls.acquired);
  });

  it('claims broadcast ticks in the same batch: one row per executor, each offered to its own executor', async () => {
    const { claimer, calls } = harness({ executors: ['e1:1', 'e2:1'] });
    const b = job(1, { routing: 'broadcast', concurrency: 'allow' });
    expect(await Promise.all([claimer.claimTick(b, T, 'schedule'), claimer.claimTick(job(2), T, 'schedule')])).toEqual([
      { kind: 'claimed' },
      { kind: 'claimed' },
    ]);
    expect(calls.acquired).toHaveLength(1);
    expect(calls.inserted).toHaveLength(1);
    expect(calls.inserted[0].map((r) => [r.jobId, r.executorKey])).toEqual([
      [1, 'e1:1'],
      [1, 'e2:1'],
      [2, ''],
    ]);
    expect(calls.offered[0].map((o) => o.run.executorKey)).toEqual(['e1:1', 'e2:1', '']);
  });

  it('writes nothing for a broadcast tick that another dispatcher recorded, and one waiting row with no executor', async () => {
    const { claimer, calls } = harness({ recorded: new Set([1]) });
    const b = (id: number) => job(id, { routing: 'broadcast', concurrency: 'allow' });
    expect(await Promise.all([claimer.claimTick(b(1), T, 'schedule'), claimer.claimTick(b(2), T, 'schedule')])).toEqual(
      [{ kind: 'recorded', through: T }, { kind: 'claimed' }],
    );
    expect(calls.inserted[0].map((r) => [r.jobId, r.executorKey, r.status])).toEqual([[2, '', 'pending']]);
  });

  it('replace: cancels the earlier runs once its tick is claimed, before offering it, and never the tick itself', async () => {
    const { claimer, calls } = harness({
      activeAfterClaim: [
        { id: 5, status: 'running', scheduledAt: T - 1000, executorAddress: 'e1:1' },
        { id: 100, status: 'pending', scheduledAt: T },
      ],
    });
    expect(await claimer.claimTick(job(1, { concurrency: 'replace' }), T, 'schedule')).toEqual({ kind: 'claimed' });
    await new Promise((r) => setImmediate(r)); // the cancel, then the offer, run after the claim
    expect(calls.cancelled).toEqual([[5, 'replaced by the tick of 2026-01-01T00:00:00.000Z']]);
    expect(offeredIds(calls)).toEqual([[100]]);
  });

  it('replace: a tick that already has its run cancels nothing and writes nothing', async () => {
    const active = new Map<number, ActiveRunRow[]>([
      [1, [{ id: 9, jobId: 1, tickKey: '1767225600', status: 'running', scheduledAt: T }]],
    ]);
    const { claimer, calls } = harness({ active });
    expect(await claimer.claimTick(job(1, { concurrency: 'replace' }), T, 'schedule')).toEqual({
      kind: 'recorded',
      through: T,
    });
    expect(calls.inserted).toEqual([]);
    expect(calls.cancelled).toEqual([]);
  });

  it('writes final records in the same insert as ticks, without a lock, and answers their ids', async () => {
    const { claimer, calls } = harness({ taken: new Set([3]) });
    const [tick, record, taken] = await Promise.all([
      claimer.claimTick(job(1), T, 'schedule'),
      claimer.record(job(2), {
        tickKey: '1767225000',
        scheduledAt: T - 600_000,
        trigger: 'schedule',
        status: 'missed',
      }),
      claimer.record(job(3), {
        tickKey: '1767225000',
        scheduledAt: T - 600_000,
        trigger: 'schedule',
        status: 'missed',
      }),
    ]);
    expect([tick, record, taken]).toEqual([{ kind: 'claimed' }, 101, null]);
    expect(calls.acquired).toEqual([['p:lock:1:1767225600:1']]);
    expect(calls.inserted[0].map((r) => [r.jobId, r.status, r.dispatcherId])).toEqual([
      [1, 'pending', 'd1'],
      [2, 'missed', 'd1'],
      [3, 'missed', 'd1'],
    ]);
    expect(offeredIds(calls)).toEqual([[100]]);
  });

  it('replace: a slow cancel holds back only its own run, not the batch, its locks or the other runs', async () => {
    let open!: () => void;
    const cancelGate = new Promise<void>((r) => (open = r));
    const { claimer, calls } = harness({
      cancelGate,
      activeAfterClaim: [{ id: 5, status: 'running', scheduledAt: T - 1000, executorAddress: 'e1:1' }],
    });
    const answers = await Promise.all([
      claimer.claimTick(job(1, { concurrency: 'replace' }), T, 'schedule'),
      claimer.claimTick(job(2), T, 'schedule'),
    ]);
    expect(answers).toEqual([{ kind: 'claimed' }, { kind: 'claimed' }]);
    expect(calls.released).toEqual(calls.acquired); // while the cancel is still waiting for its executor
    expect(offeredIds(calls)).toEqual([[101]]);
    open();
    await new Promise((r) => setImmediate(r));
    expect(calls.cancelled.map(([id]) => id)).toEqual([5]);
    expect(offeredIds(calls)).toEqual([[101], [100]]); // the replacing run once the earlier one is cancelled
  });

  it('a broadcast tick whose record check fails is answered with the error alone', async () => {
    const { claimer, calls } = harness({ recordCheckFails: new Set([1]), executors: ['e1:1'] });
    const results = await Promise.allSettled([
      claimer.claimTick(job(1, { routing: 'broadcast' }), T, 'schedule'),
      claimer.claimTick(job(2), T, 'schedule'),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled']);
    expect(calls.inserted[0].map((r) => r.jobId)).toEqual([2]);
    expect(calls.released).toEqual(calls.acquired);
  });

  it("answers a tick whose key opens another dispatcher's dropped range with the range's end, in one read", async () => {
    const { claimer, calls } = harness({ taken: new Set([1, 2]), reach: new Map([[1, T + 60_000]]) });
    const answers = await Promise.all([1, 2, 3].map((id) => claimer.claimTick(job(id), T, 'schedule')));
    expect(answers).toEqual([
      { kind: 'recorded', through: T + 60_000 },
      { kind: 'recorded', through: T },
      { kind: 'claimed' },
    ]);
    expect(calls.reachReads).toBe(1);
    expect(offeredIds(calls)).toEqual([[100]]);
  });

  it("records a dropped range under its first tick's key, with that tick's lock, and never offers it", async () => {
    const { claimer, calls } = harness({});
    const dropped = { from: T, to: T + 8000, count: 9, capped: false };
    expect(await claimer.claimRange(job(1, { misfire: 'skip' }), dropped)).toEqual({ kind: 'claimed' });
    expect(calls.acquired).toEqual([['p:lock:1:1767225600:1']]);
    expect(calls.inserted[0]).toEqual([
      expect.objectContaining({
        tickKey: '1767225600',
        scheduledAt: T + 8000,
        trigger: 'misfire',
        status: 'skipped',
        error: '9 missed tick(s) from 2026-01-01T00:00:00.000Z to 2026-01-01T00:00:08.000Z dropped (misfire: skip)',
      }),
    ]);
    expect(calls.offered).toEqual([]);
    await new Promise((r) => setImmediate(r)); // the lock is released right after the answer
    expect(calls.released).toEqual(calls.acquired);
  });

  it('answers a range whose first tick has a record with how far that record reaches, and a held one as held', async () => {
    const dropped = { from: T, to: T + 8000, count: 9, capped: false };
    const taken = harness({ taken: new Set([1]), reach: new Map([[1, T + 3000]]) });
    expect(await taken.claimer.claimRange(job(1), dropped)).toEqual({ kind: 'recorded', through: T + 3000 });
    const held = harness({ held: () => false });
    expect(await held.claimer.claimRange(job(1), dropped)).toEqual({ kind: 'held' });
    expect(held.calls.inserted).toEqual([]);
  });
});

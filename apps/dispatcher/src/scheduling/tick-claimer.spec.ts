import type { TickLock } from '@app/locking';
import type { ActiveRunRow, JobEntity, NewRun, RunBatchRepository } from '@app/persistence';
import type { EventsService } from '../events/events.service';
import type { RunLauncher } from './run-launcher.service';
import { TickClaimer } from './tick-claimer';

const T = 1_767_225_600_000; // 2026-01-01T00:00:00Z

function job(id: number, over: Partial<JobEntity> = {}): JobEntity {
  return { id, concurrency: 'forbid', routing: 'round_robin', timeoutMs: 60_000, ...over } as JobEntity;
}

/** Fakes of the claimer's collaborators that record what it asked for. */
function harness(opts: { held?: (key: string) => boolean; active?: Map<number, ActiveRunRow[]>; taken?: Set<number> }) {
  const calls = {
    acquired: [] as string[][],
    released: [] as string[][],
    inserted: [] as NewRun[][],
    offered: [] as number[][],
  };
  let nextId = 100;
  const lock: TickLock = {
    tryAcquire: () => Promise.resolve(true),
    release: () => Promise.resolve(),
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
    claimMany: (rows: NewRun[]) => {
      calls.inserted.push(rows);
      return Promise.resolve(rows.map((r) => (opts.taken?.has(r.jobId) ? null : nextId++)));
    },
  } as unknown as RunBatchRepository;
  const launcher = {
    offerMany: (items: { run: { id: number } }[]) => {
      calls.offered.push(items.map((i) => i.run.id));
      return Promise.resolve(items.map(() => 'started' as const));
    },
  } as unknown as RunLauncher;
  const events = { runChanged: () => undefined } as unknown as EventsService;
  return { claimer: new TickClaimer(lock, ledger, launcher, events, 'p', 'd1'), calls };
}

describe('TickClaimer', () => {
  it('claims the ticks asked for in one turn with one lock call and one insert, and offers the pending runs', async () => {
    const { claimer, calls } = harness({});
    const answers = await Promise.all([1, 2, 3].map((id) => claimer.fire(job(id), T, 'schedule')));
    expect(answers).toEqual([true, true, true]);
    expect(calls.acquired).toEqual([['p:lock:1:1767225600:1', 'p:lock:2:1767225600:1', 'p:lock:3:1767225600:1']]);
    expect(calls.inserted).toHaveLength(1);
    expect(calls.inserted[0].map((r) => [r.jobId, r.tickKey, r.status, r.scheduledAt, r.deadlineAt])).toEqual([
      [1, '1767225600', 'pending', T, T + 60_000],
      [2, '1767225600', 'pending', T, T + 60_000],
      [3, '1767225600', 'pending', T, T + 60_000],
    ]);
    expect(calls.offered).toEqual([[100, 101, 102]]);
    expect(calls.released).toEqual(calls.acquired);
  });

  it('answers false for ticks whose lock another dispatcher holds, and releases only the keys it took', async () => {
    const { claimer, calls } = harness({ held: (k) => !k.includes(':2:') });
    const answers = await Promise.all([1, 2].map((id) => claimer.fire(job(id), T, 'schedule')));
    expect(answers).toEqual([true, false]);
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
      claimer.fire(job(1), T, 'schedule'),
      claimer.fire(job(2), T, 'schedule'),
      claimer.fire(job(3, { concurrency: 'allow' }), T, 'schedule'),
    ]);
    expect(answers).toEqual([true, true, true]);
    expect(calls.inserted[0].map((r) => [r.jobId, r.status, r.error ?? null])).toEqual([
      [1, 'skipped', 'run 7 of this job was still running (concurrency: forbid)'],
      [3, 'pending', null],
    ]);
    expect(calls.offered).toEqual([[101]]); // the skipped record is not offered
  });

  it('offers nothing for ticks another dispatcher inserted first', async () => {
    const { claimer, calls } = harness({ taken: new Set([1]) });
    expect(await Promise.all([1, 2].map((id) => claimer.fire(job(id), T, 'misfire')))).toEqual([true, true]);
    expect(calls.inserted[0].map((r) => r.trigger)).toEqual(['misfire', 'misfire']);
    expect(calls.offered).toEqual([[100]]);
  });

  it('rejects every waiter of a batch whose insert failed, and still releases its locks', async () => {
    const { claimer, calls } = harness({});
    (claimer as unknown as { ledger: { claimMany: () => Promise<never> } }).ledger.claimMany = () =>
      Promise.reject(new Error('database is down'));
    const results = await Promise.allSettled([1, 2].map((id) => claimer.fire(job(id), T, 'schedule')));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(calls.released).toEqual(calls.acquired);
  });

  it('keeps the one-tick path for broadcast routing and replace concurrency', () => {
    expect(TickClaimer.handles(job(1))).toBe(true);
    expect(TickClaimer.handles(job(1, { routing: 'broadcast' }))).toBe(false);
    expect(TickClaimer.handles(job(1, { concurrency: 'replace' }))).toBe(false);
  });
});

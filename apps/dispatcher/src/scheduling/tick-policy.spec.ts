import type { ActiveRunRow, JobEntity } from '@app/persistence';
import { decideTick, ledgerRow, rowsOf, tickKeyOf } from './tick-policy';

const T = 1_767_225_600_000;
const job = (over: Partial<JobEntity>) =>
  ({ id: 1, concurrency: 'allow', routing: 'round_robin', timeoutMs: 1000, ...over }) as JobEntity;
const active = (tickKey: string, id = 7): ActiveRunRow => ({
  id,
  jobId: 1,
  tickKey,
  status: 'running',
  scheduledAt: T - 1000,
});
const facts = (
  over: Partial<{ active: ActiveRunRow[]; recorded: boolean; executors: string[]; covered: boolean }> = {},
) => ({
  active: [],
  recorded: false,
  executors: [],
  covered: false,
  ...over,
});

describe('decideTick', () => {
  const key = tickKeyOf(T);

  it('allow: a run whatever is active', () => {
    expect(decideTick(job({}), key, facts({ active: [active('1')] }))).toEqual({
      kind: 'run',
      executorKeys: [''],
      replaceEarlier: false,
    });
  });

  it('forbid: skipped with the active run named, or nothing when the tick already has its run', () => {
    expect(decideTick(job({ concurrency: 'forbid' }), key, facts({ active: [active('1')] }))).toEqual({
      kind: 'skip',
      reason: 'run 7 of this job had not finished (concurrency: forbid)',
    });
    expect(decideTick(job({ concurrency: 'forbid' }), key, facts({ active: [active(key)] }))).toEqual({
      kind: 'recorded',
    });
    expect(decideTick(job({ concurrency: 'forbid' }), key, facts()).kind).toBe('run');
    // Inside a record of folded skips (its key moved on to a later tick): recorded, neither run nor skipped again.
    for (const concurrency of ['forbid', 'replace'] as const) {
      expect(decideTick(job({ concurrency }), key, facts({ covered: true }))).toEqual({ kind: 'recorded' });
      expect(decideTick(job({ concurrency }), key, facts({ covered: true, active: [active('1')] }))).toEqual({
        kind: 'recorded',
      });
    }
  });

  it('replace: a run that replaces earlier ones, never one of its own tick', () => {
    expect(decideTick(job({ concurrency: 'replace' }), key, facts({ active: [active('1')] }))).toEqual({
      kind: 'run',
      executorKeys: [''],
      replaceEarlier: true,
    });
    expect(decideTick(job({ concurrency: 'replace' }), key, facts({ active: [active(key)] })).kind).toBe('recorded');
  });

  it('broadcast: a row per executor, one waiting row with none, nothing when any record of the tick exists', () => {
    const b = job({ routing: 'broadcast' });
    expect(decideTick(b, key, facts({ executors: ['a:1', 'b:1'] }))).toEqual({
      kind: 'run',
      executorKeys: ['a:1', 'b:1'],
      replaceEarlier: false,
    });
    expect(decideTick(b, key, facts())).toEqual({ kind: 'run', executorKeys: [''], replaceEarlier: false });
    expect(decideTick(b, key, facts({ recorded: true, executors: ['a:1'] }))).toEqual({ kind: 'recorded' });
  });
});

describe('ledger rows', () => {
  it('a claimed tick is a pending first attempt with the job deadline, a skip carries its reason', () => {
    const rows = rowsOf(job({}), T, 'schedule', { kind: 'run', executorKeys: [''], replaceEarlier: false }, 'd', 5);
    expect(rows).toEqual([
      {
        jobId: 1,
        tickKey: '1767225600',
        attempt: 1,
        executorKey: '',
        scheduledAt: T,
        trigger: 'schedule',
        status: 'pending',
        notBefore: 5,
        deadlineAt: T + 1000,
        dispatcherId: 'd',
        error: null,
      },
    ]);
    expect(rowsOf(job({}), T, 'misfire', { kind: 'skip', reason: 'busy' }, 'd', 5)[0]).toMatchObject({
      status: 'skipped',
      trigger: 'misfire',
      error: 'busy',
    });
    expect(rowsOf(job({}), T, 'schedule', { kind: 'recorded' }, 'd', 5)).toEqual([]);
  });

  it('a record may set its own deadline', () => {
    const row = ledgerRow(
      job({}),
      { tickKey: 'k', scheduledAt: T, trigger: 'schedule', status: 'missed', deadlineAt: T },
      'd',
    );
    expect(row.deadlineAt).toBe(T);
  });

  it('a misfired run waits for an executor for timeoutMs from its claim, not from its tick long past', () => {
    const run = { kind: 'run' as const, executorKeys: [''], replaceEarlier: false };
    const claimedAt = T + 3_600_000; // an hour after its tick, after an outage
    const [misfired] = rowsOf(job({}), T, 'misfire', run, 'd', claimedAt);
    expect(misfired).toMatchObject({ scheduledAt: T, notBefore: claimedAt, deadlineAt: claimedAt + 1000 });
    // A scheduled tick keeps the contract's deadline: timeoutMs after scheduledAt.
    expect(rowsOf(job({}), T, 'schedule', run, 'd', T + 200)[0].deadlineAt).toBe(T + 1000);
  });
});

import type { RunEntity } from '@app/persistence';
import { RunResponse } from './run.response';

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);

function run(over: Partial<RunEntity> = {}): RunEntity {
  return {
    id: 41,
    jobId: 7,
    tickKey: 's:1795608000',
    attempt: 1,
    executorKey: '',
    scheduledAt: T0,
    trigger: 'schedule',
    status: 'succeeded',
    notBefore: T0,
    deadlineAt: T0 + 60_000,
    executorId: 'exec-1',
    executorAddress: '127.0.0.1:50051',
    dispatcherId: 'disp-1',
    startedAt: T0 + 10,
    finishedAt: T0 + 1510,
    durationMs: 1500,
    exitCode: 0,
    httpStatus: null,
    output: 'ok\n',
    outputTruncated: false,
    error: null,
    skippedCount: 0,
    skippedFrom: null,
    queuedAt: null,
    createdAt: T0,
    updatedAt: T0 + 1510,
    ...over,
  };
}

/** Ledger fields the API never sends, and times it sends as ISO strings instead of epoch ms. */
const NOT_AS_STORED = [
  'tickKey',
  'executorKey',
  'notBefore',
  'deadlineAt',
  'executorAddress',
  'createdAt',
  'updatedAt',
  'scheduledAt',
  'startedAt',
  'finishedAt',
  'skippedFrom',
  'queuedAt',
];
const sentAsIs = (r: RunEntity) => Object.fromEntries(Object.entries(r).filter(([k]) => !NOT_AS_STORED.includes(k)));

describe('RunResponse.of', () => {
  it('sends the contract fields with ISO times, and none of the ledger fields', () => {
    const stored = run();
    expect(RunResponse.of(stored)).toStrictEqual({
      ...sentAsIs(stored),
      scheduledAt: '2026-11-25T12:00:00.000Z',
      startedAt: '2026-11-25T12:00:00.010Z',
      finishedAt: '2026-11-25T12:00:01.510Z',
      skippedUntil: null,
      parentRunIds: [],
    });
    expect(RunResponse.of(run({ trigger: 'dependency' }), [3, 5]).parentRunIds).toEqual([3, 5]);
  });

  it('shows a record of folded skips from its first tick to its last, with their count', () => {
    const folded = RunResponse.of(
      run({ status: 'skipped', skippedCount: 3, skippedFrom: T0, scheduledAt: T0 + 2000, startedAt: null }),
    );
    expect(folded).toMatchObject({
      scheduledAt: '2026-11-25T12:00:00.000Z',
      skippedUntil: '2026-11-25T12:00:02.000Z',
      skippedCount: 3,
    });
    // A skip written before counting existed stands for its own tick; other statuses count none.
    expect(RunResponse.of(run({ status: 'skipped', skippedCount: 0 }))).toMatchObject({
      skippedCount: 1,
      skippedUntil: null,
    });
    expect(RunResponse.of(run({ skippedCount: 5 })).skippedCount).toBe(0);
  });

  it('keeps unset times null and reads a stored 0 or 1 as a boolean', () => {
    const json = RunResponse.of(
      run({ status: 'pending', startedAt: null, finishedAt: null, outputTruncated: 1 as unknown as boolean }),
    );
    expect(json.startedAt).toBeNull();
    expect(json.finishedAt).toBeNull();
    expect(json.outputTruncated).toBe(true);
  });
});

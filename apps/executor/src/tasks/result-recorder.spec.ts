import type { LedgerKey, RunBatchRepository, RunResult, RunsRepository } from '@app/persistence';
import { Logger } from '@nestjs/common';
import { createAppLogger } from '@app/common';
import { ResultRecorder } from './result-recorder';

const key = (id: number): LedgerKey => ({
  id,
  jobId: 1,
  tickKey: String(id),
  attempt: 1,
  executorKey: '',
  scheduledAt: 0,
});
const ok = (output = 'ok'): RunResult => ({ status: 'succeeded', finishedAt: 1, output });

/** finishMany that refuses any statement holding a result whose output is 'poison', like a server refusing a row. */
function fakeLedger() {
  const written = new Map<number, RunResult>();
  const statements: number[] = [];
  const batch = {
    finishMany: (rows: { id: number; result: RunResult }[]) => {
      statements.push(rows.length);
      if (rows.some((r) => r.result.output === 'poison')) return Promise.reject(new Error('packet too large'));
      for (const r of rows) written.set(r.id, r.result);
      return Promise.resolve(new Set(rows.map((r) => r.id)));
    },
  } as unknown as RunBatchRepository;
  return { batch, written, statements };
}

describe('ResultRecorder', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('writes the results that arrive together in one statement', async () => {
    const { batch, written, statements } = fakeLedger();
    const recorder = new ResultRecorder({} as RunsRepository, batch, 'e1');
    const done = Promise.all([1, 2, 3].map((id) => recorder.record(key(id), ok(), null)));
    await jest.advanceTimersByTimeAsync(10);
    await done;
    expect(statements).toEqual([3]);
    expect([...written.keys()]).toEqual([1, 2, 3]);
  });

  it('settles a success without building its debug line when debug lines are off', async () => {
    const { batch, written } = fakeLedger();
    const recorder = new ResultRecorder({} as RunsRepository, batch, 'e1');
    const debug = jest.spyOn(Logger.prototype, 'debug');
    const level = process.env.GOCRON_LOG_LEVEL;
    process.env.GOCRON_LOG_LEVEL = 'log';
    createAppLogger(); // the level the process's lines are printed at: debug lines off
    try {
      const done = recorder.record(key(7), ok(), null);
      await jest.advanceTimersByTimeAsync(10);
      await done;
      expect(written.get(7)?.status).toBe('succeeded');
      expect(debug).not.toHaveBeenCalled();
    } finally {
      process.env.GOCRON_LOG_LEVEL = 'debug';
      createAppLogger();
      if (level === undefined) delete process.env.GOCRON_LOG_LEVEL;
      else process.env.GOCRON_LOG_LEVEL = level;
      debug.mockRestore();
    }
  });

  it('isolates a result the ledger refuses, writes the others, then writes that one without its output', async () => {
    const { batch, written } = fakeLedger();
    const recorder = new ResultRecorder({} as RunsRepository, batch, 'e1');
    const settled: number[] = [];
    const ids = [1, 2, 3, 4, 5, 6, 7, 8];
    const all = ids.map((id) =>
      recorder.record(key(id), ok(id === 5 ? 'poison' : 'ok'), null).then(() => settled.push(id)),
    );
    await jest.advanceTimersByTimeAsync(60_000);
    await Promise.all(all);
    expect(settled.sort()).toEqual(ids);
    expect([...written.keys()].sort()).toEqual(ids);
    expect(written.get(1)?.output).toBe('ok');
    expect(written.get(5)).toMatchObject({ status: 'succeeded', output: null, outputTruncated: true });
    expect(written.get(5)?.error).toMatch(/output dropped: the ledger refused it \(packet too large\)/);
  });
});

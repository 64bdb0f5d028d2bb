import type { JobEntity, JobsRepository } from '@app/persistence';
import { JOB_MAX_AGE_MS, JobCache } from './job-cache';

const T = 1_700_000_000_000;

/** A jobs table in memory that counts the reads the cache makes, and lets a test hold one read back. */
function fakeJobs(rows: Record<number, { version: number; command?: string }>) {
  const reads: number[][] = [];
  const repo = {
    findForLaunch: (ids: number[]) => {
      reads.push([...ids]);
      return Promise.resolve(
        ids
          .filter((id) => rows[id])
          .map((id) => ({ id, version: rows[id].version, command: rows[id].command ?? `job ${id}` }) as JobEntity),
      );
    },
  } as unknown as JobsRepository;
  return { repo, reads, rows };
}

const asked = (...pairs: [number, number][]) => new Map(pairs);

/** A jobs table whose rows the test edits in place (each read maps them into new objects, as the driver does). */
const rowsRepo = (rows: Record<number, Partial<JobEntity>>) =>
  ({
    findForLaunch: (ids: number[]) => Promise.resolve(ids.map((id) => ({ id, ...rows[id] }) as JobEntity)),
  }) as unknown as JobsRepository;

describe('JobCache', () => {
  it("reads a batch's jobs in one query, then none while the versions asked for are what it holds", async () => {
    const { repo, reads } = fakeJobs({ 1: { version: 3 }, 2: { version: 1 } });
    const cache = new JobCache(repo);
    const first = await cache.jobsFor(asked([1, 3], [2, 1]), T);
    expect([...first.keys()]).toEqual([1, 2]);
    expect(reads).toEqual([[1, 2]]);
    // The same versions, or older ones (a dispatcher that has not seen the edit yet): no read.
    expect((await cache.jobsFor(asked([1, 3], [2, 1]), T + 10)).get(1)?.version).toBe(3);
    expect((await cache.jobsFor(asked([1, 2]), T + 20)).get(1)?.version).toBe(3);
    expect(reads).toHaveLength(1);
  });

  it('reads a job again when a request names a newer version, names none, or the copy is too old', async () => {
    const { repo, reads, rows } = fakeJobs({ 1: { version: 1, command: 'old' } });
    const cache = new JobCache(repo);
    await cache.jobsFor(asked([1, 1]), T);
    rows[1] = { version: 2, command: 'new' };
    expect((await cache.jobsFor(asked([1, 2]), T + 1)).get(1)?.command).toBe('new');
    expect(reads).toHaveLength(2);
    await cache.jobsFor(asked([1, 0]), T + 2); // an older dispatcher: no version
    expect(reads).toHaveLength(3);
    // Edited again and not announced: the copy is used until it is JOB_MAX_AGE_MS old, then read again.
    rows[1] = { version: 3, command: 'newer' };
    expect((await cache.jobsFor(asked([1, 2]), T + 2 + JOB_MAX_AGE_MS - 1)).get(1)?.command).toBe('new');
    expect((await cache.jobsFor(asked([1, 2]), T + 2 + JOB_MAX_AGE_MS)).get(1)?.command).toBe('newer');
    expect(reads).toHaveLength(4);
  });

  it('runs what the row holds whatever version a caller names: higher reads every time, never another job', async () => {
    const { repo, reads } = fakeJobs({ 1: { version: 1 } });
    const cache = new JobCache(repo);
    for (let i = 0; i < 3; i++) expect((await cache.jobsFor(asked([1, 99]), T + i)).get(1)?.version).toBe(1);
    expect(reads).toHaveLength(3);
  });

  it('keeps the copy it holds when a read finds the same row, and takes the new one when the row is another', async () => {
    const rows: Record<number, Partial<JobEntity>> = { 1: { version: 2, updatedAt: 10, createdAt: 5, command: 'a' } };
    const cache = new JobCache(rowsRepo(rows));
    const first = (await cache.jobsFor(asked([1, 0]), T)).get(1);
    // Read again (no version named) and unchanged: the same object, so its opened secrets stay cached too.
    expect((await cache.jobsFor(asked([1, 0]), T + 1)).get(1)).toBe(first);
    // Deleted and created again under the same id with the same version: another row, taken.
    rows[1] = { version: 2, updatedAt: 20, createdAt: 20, command: 'b' };
    const again = (await cache.jobsFor(asked([1, 0]), T + 2)).get(1);
    expect(again).not.toBe(first);
    expect(again?.command).toBe('b');
    // The copy kept is current again: a request naming its version reads nothing until it is JOB_MAX_AGE_MS old,
    // and the read then (the gRPC path: the version named, the copy too old) finds the same row and keeps the copy.
    expect((await cache.jobsFor(asked([1, 2]), T + 2 + JOB_MAX_AGE_MS - 1)).get(1)).toBe(again);
    expect((await cache.jobsFor(asked([1, 2]), T + 2 + JOB_MAX_AGE_MS + 100)).get(1)).toBe(again);
  });

  it('takes an older version read after its copy was (a restore), and a re-created job under the same id', async () => {
    const rows: Record<number, Partial<JobEntity>> = { 1: { version: 5, updatedAt: 50, createdAt: 5, command: 'v5' } };
    const cache = new JobCache(rowsRepo(rows));
    await cache.jobsFor(asked([1, 5]), T);
    rows[1] = { version: 3, updatedAt: 30, createdAt: 5, command: 'v3' };
    expect((await cache.jobsFor(asked([1, 0]), T + 1)).get(1)?.command).toBe('v3');
    rows[1] = { version: 1, updatedAt: 60, createdAt: 60, command: 'new job' };
    expect((await cache.jobsFor(asked([1, 0]), T + 2)).get(1)?.command).toBe('new job');
  });

  it('keeps the view of the read that started last, whatever order three overlapping reads answer in', async () => {
    const rows: Record<number, Partial<JobEntity>> = {};
    const answers: (() => void)[] = [];
    const repo = {
      findForLaunch: (ids: number[]) => {
        const row = { id: ids[0], ...rows[ids[0]] } as JobEntity; // the row as it is when the read starts
        return new Promise<JobEntity[]>((resolve) => answers.push(() => resolve([row])));
      },
    } as unknown as JobsRepository;
    const cache = new JobCache(repo);
    const reads: Promise<Map<number, JobEntity>>[] = [];
    for (const [i, row] of [
      { version: 5, updatedAt: 50, createdAt: 5, command: 'old job v5' },
      { version: 6, updatedAt: 60, createdAt: 5, command: 'old job v6' },
      { version: 1, updatedAt: 70, createdAt: 70, command: 're-created job' },
    ].entries()) {
      rows[1] = row;
      reads.push(cache.jobsFor(asked([1, 0]), T + i));
    }
    // The last read answers first, then the first, then the second.
    for (const i of [2, 0, 1]) {
      answers[i]();
      await reads[i];
    }
    // Every later use sees the re-created job, the view of the read that started last.
    expect((await cache.jobsFor(asked([1, 1]), T + 3)).get(1)?.command).toBe('re-created job');
  });

  it('forgets a copy no request asked for within twice JOB_MAX_AGE_MS', async () => {
    const { repo } = fakeJobs({ 1: { version: 1 }, 2: { version: 1 } });
    const cache = new JobCache(repo);
    await cache.jobsFor(asked([1, 1]), T);
    await cache.jobsFor(asked([2, 1]), T + 2 * JOB_MAX_AGE_MS - 1);
    expect(cache.size).toBe(2);
    await cache.jobsFor(asked([2, 1]), T + 2 * JOB_MAX_AGE_MS + 1);
    expect(cache.size).toBe(1);
  });

  it('answers a deleted job as absent and forgets it', async () => {
    const { repo, reads, rows } = fakeJobs({ 1: { version: 1 } });
    const cache = new JobCache(repo);
    await cache.jobsFor(asked([1, 1]), T);
    delete rows[1];
    expect((await cache.jobsFor(asked([1, 2]), T + 1)).has(1)).toBe(false);
    expect(cache.size).toBe(0);
    expect((await cache.jobsFor(asked([1, 1]), T + 2)).has(1)).toBe(false);
    expect(reads).toHaveLength(3);
  });

  it('keeps the newest copy when two reads overlap and the older answers last', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let version = 1;
    const repo = {
      findForLaunch: async () => {
        const v = version;
        if (v === 1) await held; // the first read answers after the second
        return [{ id: 1, version: v } as JobEntity];
      },
    } as unknown as JobsRepository;
    const cache = new JobCache(repo);
    const slow = cache.jobsFor(asked([1, 1]), T);
    version = 2;
    expect((await cache.jobsFor(asked([1, 2]), T + 1)).get(1)?.version).toBe(2);
    release();
    expect((await slow).get(1)?.version).toBe(2);
    expect((await cache.jobsFor(asked([1, 2]), T + 2)).get(1)?.version).toBe(2);
  });
});

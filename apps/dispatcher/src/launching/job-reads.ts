import type { JobEntity, JobsRepository } from '@app/persistence';

/** The jobs read, and the ones whose row could not be read, each with the reason. */
export interface JobsRead {
  jobs: Map<number, JobEntity>;
  unreadable: Map<number, string>;
}

/**
 * The jobs of these ids, in one read. When that read fails, each job is read on its own: a job row that can not be
 * read (a stored value the mapping refuses) is named in `unreadable`, and the others are there; when no job can be
 * read at all, the database is the trouble, and that error is thrown (the caller's next pass tries again).
 */
/** An error of turning a stored row into a job (bad JSON, a value of the wrong type), not of reading it. */
function isRowError(e: unknown): boolean {
  return e instanceof SyntaxError || e instanceof TypeError || e instanceof RangeError;
}

export async function readJobs(repo: JobsRepository, ids: number[]): Promise<JobsRead> {
  const unreadable = new Map<number, string>();
  if (ids.length === 0) return { jobs: new Map(), unreadable };
  try {
    return { jobs: await repo.findByIds(ids), unreadable };
  } catch (e) {
    if (ids.length === 1) throw e;
  }
  const jobs = new Map<number, JobEntity>();
  let lastError: unknown = null;
  for (const id of ids) {
    try {
      const job = await repo.findById(id);
      if (job) jobs.set(id, job);
    } catch (e) {
      // Only a row the mapping refuses fails its runs; a database error (a timeout, a lost connection, a lock wait)
      // may pass: the whole pass is tried again, nothing is failed for it.
      if (!isRowError(e)) throw e;
      lastError = e;
      unreadable.set(id, (e as Error).message);
    }
  }
  if (unreadable.size === ids.length) throw lastError as Error;
  return { jobs, unreadable };
}

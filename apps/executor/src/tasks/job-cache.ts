import { Injectable } from '@nestjs/common';
import { JobEntity, JobsRepository } from '@app/persistence';

/**
 * How long a job read from the ledger is used without reading it again, whatever the requests say: a request's
 * version is a hint from the caller, so this bounds how long an edit that no request has announced yet can go unseen
 * (the previous definition of a job, for a run pending in the ledger as that job's).
 */
export const JOB_MAX_AGE_MS = 5_000;
/** Jobs kept at most (the oldest reads go first). */
const MAX_ENTRIES = 100_000;

interface Entry {
  job: JobEntity;
  readAt: number;
}

/**
 * A copy is kept this long after its last read, though it is not used after JOB_MAX_AGE_MS without a read: so that a
 * re-read finding the same row can keep the copy (sameRow).
 */
const FORGET_AFTER_MS = 2 * JOB_MAX_AGE_MS;

/**
 * The same row as read before: every write of what a run uses bumps `version` and `updated_at` (the dispatchers see
 * changes by `updated_at` too), and a job deleted and created again under a re-used id (MySQL 5.7 may re-use the
 * highest after a restart) has another `created_at`. Keeping the copy held matters for memory as much as for work:
 * a new copy of every job each JOB_MAX_AGE_MS lived long enough to be moved to V8's old generation, and that garbage
 * cost the executor full collections, each of which also threw away optimized code that the JIT compiled again.
 */
function sameRow(a: JobEntity, b: JobEntity): boolean {
  return a.version === b.version && a.updatedAt === b.updatedAt && a.createdAt === b.createdAt;
}

/**
 * The jobs an executor runs, as the ledger holds them: a RunBatch's jobs are read in one query, and a job read is used
 * again while it is current. "Current" is learnt from the requests, without a query: each names the version of the
 * job it was offered for, and a copy older than that (or older than JOB_MAX_AGE_MS, or of a request that names no
 * version) is read again. A request can thus make the executor read a job, never run something else than a row it
 * read: a version named higher than the row's reads it every time, one named lower uses the copy held (the row as
 * last read: after a restore, an older version).
 */
@Injectable()
export class JobCache {
  /** In the order they were read, the oldest first. */
  private readonly entries = new Map<number, Entry>();

  constructor(private readonly jobs: JobsRepository) {}

  /**
   * The jobs of `offered` (job id → the version named, 0 when none), those that exist: the current copies from the
   * cache, the others in one read.
   */
  async jobsFor(offered: Map<number, number>, now = Date.now()): Promise<Map<number, JobEntity>> {
    this.forgetOlderThan(now - FORGET_AFTER_MS);
    const out = new Map<number, JobEntity>();
    const toRead: number[] = [];
    for (const [id, version] of offered) {
      const entry = this.entries.get(id);
      if (entry && version > 0 && entry.job.version >= version && now - entry.readAt < JOB_MAX_AGE_MS) {
        out.set(id, entry.job);
      } else {
        toRead.push(id);
      }
    }
    if (toRead.length === 0) return out;
    // Stamped with the instant before the read: the row is at least that fresh.
    for (const job of await this.jobs.findForLaunch(toRead)) {
      const kept = this.entries.get(job.id);
      let newest = job;
      if (kept && (kept.readAt > now || (kept.readAt === now && kept.job.version > job.version))) {
        // Reads overlapping: one that started after this one answered first; its row is the later view, whatever
        // its version (a job re-created under the id has a lower one). In the same millisecond the higher wins.
        newest = kept.job;
      } else if (kept && sameRow(kept.job, job)) {
        // The same row read again: the copy held is kept (and the secrets SecretOpener opened for it), the new read
        // is dropped at once. Anything else read is the row as it is now, even an older version (a restore).
        newest = kept.job;
      }
      out.set(job.id, newest);
      this.entries.delete(job.id);
      if (kept && kept.job === newest) {
        // Never back: a read that started earlier answering last must not make a later one look older.
        kept.readAt = Math.max(kept.readAt, now);
        this.entries.set(job.id, kept);
      } else {
        this.entries.set(job.id, { job: newest, readAt: now });
      }
    }
    for (const id of toRead) if (!out.has(id)) this.entries.delete(id); // deleted
    for (const id of this.entries.keys()) {
      if (this.entries.size <= MAX_ENTRIES) break;
      this.entries.delete(id);
    }
    return out;
  }

  get size(): number {
    return this.entries.size;
  }

  private forgetOlderThan(at: number): void {
    for (const [id, entry] of this.entries) {
      if (entry.readAt >= at) break;
      this.entries.delete(id);
    }
  }
}

import type { DataSource } from 'typeorm';

/** Keys a statement at most: far below SQLite's bound variables and MySQL's packet limit. */
const CHUNK = 500;

export interface TickKey {
  jobId: number;
  tickKey: string;
}

/**
 * Two small ledger reads of the misfire fence, each on an index of `runs`: how far the records under some ledger
 * keys reach, and when the record at a job's cursor was written. (They belong in the persistence library's
 * RunsRepository; they live here while that file is being reworked.)
 */
export class LedgerProbe {
  constructor(private readonly ds: DataSource) {}

  /**
   * The latest `scheduledAt` of the first-attempt record under each key (`jobId` NUL `tickKey`), for keys a claim
   * found taken: a tick's own instant for a run, a missed or a skipped tick, the range's last tick for a dropped
   * range recorded under its first tick's key. Keys without a record (a broadcast tick's rows carry executor keys)
   * are absent. On the unique key (job_id, tick_key, attempt, executor_key).
   */
  async reachOf(keys: TickKey[]): Promise<Map<string, number>> {
    const reach = new Map<string, number>();
    for (let c = 0; c < keys.length; c += CHUNK) {
      const chunk = keys.slice(c, c + CHUNK);
      const jobIds = [...new Set(chunk.map((k) => k.jobId))];
      const tickKeys = [...new Set(chunk.map((k) => k.tickKey))];
      const rows = await this.ds.query<{ job_id: number | string; tick_key: string; at: number | string }[]>(
        `SELECT job_id, tick_key, MAX(scheduled_at) AS at FROM runs ` +
          `WHERE job_id IN (${marks(jobIds.length)}) AND tick_key IN (${marks(tickKeys.length)}) ` +
          `AND attempt = 1 AND executor_key = '' GROUP BY job_id, tick_key`,
        [...jobIds, ...tickKeys],
      );
      for (const row of rows) reach.set(keyOf(Number(row.job_id), row.tick_key), Number(row.at));
    }
    return reach;
  }

  /**
   * When the job's first-attempt tick record at `scheduledAt` was written (the latest, for a broadcast tick's rows),
   * or null when there is none. On the (job_id, scheduled_at) index.
   */
  async writtenAt(jobId: number, scheduledAt: number): Promise<number | null> {
    const [row] = await this.ds.query<{ at: number | string | null }[]>(
      `SELECT MAX(created_at) AS at FROM runs WHERE job_id = ? AND scheduled_at = ? AND attempt = 1 ` +
        `AND \`trigger\` IN ('schedule', 'misfire')`,
      [jobId, scheduledAt],
    );
    return row?.at === null || row?.at === undefined ? null : Number(row.at);
  }
}

export function keyOf(jobId: number, tickKey: string): string {
  return `${jobId}\u0000${tickKey}`;
}

function marks(n: number): string {
  return new Array<string>(n).fill('?').join(', ');
}

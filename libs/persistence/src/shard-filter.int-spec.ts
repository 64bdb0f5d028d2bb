// The shard filters (ShardOwnership's jobs in SQL) on real SQLite and MariaDB: the database must name the same
// shard for a job as shardOf does (MySQL's CRC32() on the decimal id, SQLite's registered gocron_shard()), or a
// dispatcher would load, offer or watch another's jobs and leave some of its own to nobody.
import { DataSource } from 'typeorm';
import { shardOf } from '@app/common';
import { mysqlDialect, sqliteDialect } from '../../../test/support/ledger-dialects';
import { pendingRun, shellJob } from '../../../test/support/ledger-rows';
import { dataSourceOptions } from './data-source-options';
import { migrate } from './migrator';
import { JobsRepository } from './repositories/jobs.repository';
import { RunsRepository } from './repositories/runs.repository';

const T = 1_700_000_000_000;

describe.each([sqliteDialect(), mysqlDialect()])('shard filters on $name', (dialect) => {
  let ds: DataSource;
  let jobs: JobsRepository;
  let runs: RunsRepository;
  const ids: number[] = [];

  beforeAll(async () => {
    ds = new DataSource(dataSourceOptions(await dialect.fresh()));
    await ds.initialize();
    await migrate(ds);
    jobs = new JobsRepository(ds);
    runs = new RunsRepository(ds);
    for (let i = 0; i < 300; i++) {
      const job = await jobs.create(shellJob(`j${i}`, 'g', T, { enabled: i % 10 !== 0 }), T);
      ids.push(job.id);
      await runs.claim(pendingRun(job.id, 't1', T, { deadlineAt: T + 1 }), T);
    }
    // Ids far from 1..300 too: the CRC of longer decimal strings.
    for (const id of [99_999, 1_000_000, 2_147_483_647]) {
      const job = await jobs.create(shellJob(`big${id}`, 'g', T), T);
      await ds.query('UPDATE jobs SET id = ? WHERE id = ?', [id, job.id]);
      ids.push(id);
    }
  }, 60_000);

  afterAll(async () => {
    await ds?.destroy();
    await dialect.cleanup();
  });

  const page = async (shards: number[] | null) => {
    const out: number[] = [];
    for (let after = 0; ;) {
      const rows = await jobs.findEnabledPage(after, 64, shards);
      out.push(...rows.map((j) => j.id));
      if (rows.length < 64) return out;
      after = rows[rows.length - 1].id;
    }
  };

  it('loads the enabled jobs of the given shards only, and all of them', async () => {
    const all = await page(null);
    const shards = [...new Set(ids.map(shardOf))].filter((_, i) => i % 3 === 0);
    const chosen = await page(shards);
    expect(chosen.length).toBeGreaterThan(10);
    expect(chosen).toEqual(all.filter((id) => shards.includes(shardOf(id))));
    expect(await page([])).toEqual([]);
  });

  it('offers, expires and watches the runs of the given shards only', async () => {
    const shard = shardOf(ids[5]);
    const expected = ids.slice(0, 300).filter((id) => shardOf(id) === shard);
    const offerable = await runs.findOfferableFor('g', T + 10, 0, 1000, [shard]);
    expect(offerable.map((r) => r.jobId).sort((a, b) => a - b)).toEqual(expected);
    const expired = await runs.findExpiredPending(T + 10, 1000, [shard]);
    expect(expired.map((r) => r.jobId).sort((a, b) => a - b)).toEqual(expected);
    expect(await runs.findRunningOn(null, [shard])).toEqual([]);
  });

  it('refuses a shard number out of range rather than write it into SQL', async () => {
    await expect(jobs.findEnabledPage(0, 10, [256])).rejects.toThrow(/not a shard number: 256/);
    await expect(jobs.findEnabledPage(0, 10, [1.5])).rejects.toThrow(/not a shard number/);
  });
});

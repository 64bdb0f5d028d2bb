// findEnabledPage() on an in-memory SQLite database: the start-up loader reads rows as arrays and shares the values
// that repeat across jobs. (The integration suite checks the same mapping on both dialects.)
import { DataSource } from 'typeorm';
import { sqliteConfig } from '../../../../test/support/ledger-dialects';
import { dataSourceOptions } from '../data-source-options';
import { JobEntity } from '../entities/job.entity';
import { migrate } from '../migrator';
import { JobsRepository, NewJob } from './jobs.repository';

const T = 1_700_000_000_000;

function job(name: string, over: Partial<NewJob> = {}): NewJob {
  return {
    name,
    description: '',
    cron: '0 0 * * * *',
    timezone: 'UTC',
    type: 'http',
    command: null,
    env: {},
    http: { method: 'GET', url: 'http://127.0.0.1:1/', headers: { a: 'b' }, body: '', expectStatus: [200] },
    timeoutMs: 60_000,
    retries: 0,
    retryBackoffMs: 1000,
    concurrency: 'allow',
    misfire: 'skip',
    group: 'default',
    routing: 'round_robin',
    enabled: true,
    scheduleSetAt: T,
    lastTickAt: T,
    nextRunAt: null,
    ...over,
  };
}

describe('JobsRepository.findEnabledPage (SQLite)', () => {
  let ds: DataSource;
  let jobs: JobsRepository;

  beforeEach(async () => {
    ds = new DataSource(dataSourceOptions(sqliteConfig(':memory:')));
    await ds.initialize();
    await migrate(ds);
    jobs = new JobsRepository(ds);
  });

  afterEach(() => ds.destroy());

  it('maps every column exactly like TypeORM, as JobEntity instances', async () => {
    const a = await jobs.create(job('a'), T);
    await jobs.create(job('off', { enabled: false }), T);
    const b = await jobs.create(
      job('b', {
        type: 'shell',
        command: 'echo hi',
        env: { X: '1' },
        http: null,
        description: 'some job',
        cron: '@every 90s',
        timezone: 'Europe/Paris',
        concurrency: 'forbid',
        misfire: 'all',
        group: 'g',
        routing: 'broadcast',
        timeoutMs: 7000,
        retries: 2,
        retryBackoffMs: 3000,
        scheduleSetAt: T - 7,
      }),
      T + 1,
    );
    // Every number of b distinct, so a property read from another column shows.
    await jobs.update(b.id, 1, { description: 'some job, changed' }, T + 2);
    await jobs.advanceCursor(b.id, T + 5000, T + 6000);
    const page = await jobs.findEnabledPage(0, 10);
    expect(page.map((j) => j.id)).toEqual([a.id, b.id]);
    for (const loaded of page) {
      expect(loaded).toBeInstanceOf(JobEntity);
      expect(loaded).toEqual(await jobs.findById(loaded.id));
    }
    expect(page[1]).toMatchObject({
      lastTickAt: T + 5000,
      nextRunAt: T + 6000,
      enabled: true,
      command: 'echo hi',
      version: 2,
      createdAt: T + 1,
      updatedAt: T + 2,
    });
  });

  it('pages by id', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) ids.push((await jobs.create(job(`p${i}`), T)).id);
    const first = await jobs.findEnabledPage(0, 3);
    const second = await jobs.findEnabledPage(first[2].id, 3);
    expect([...first, ...second].map((j) => j.id)).toEqual(ids);
    expect(await jobs.findEnabledPage(ids[4], 3)).toEqual([]);
  });

  it('shares equal env and http objects between jobs, frozen so no job can change another', async () => {
    await jobs.create(job('a'), T);
    await jobs.create(job('b'), T);
    await jobs.create(job('c', { http: { ...job('c').http!, url: 'http://other/' } }), T);
    const [a, b, c] = await jobs.findEnabledPage(0, 10);
    expect(b.http).toBe(a.http);
    expect(b.env).toBe(a.env);
    expect(c.http).not.toBe(a.http);
    expect(c.http!.url).toBe('http://other/');
    expect(Object.isFrozen(a.http)).toBe(true);
    expect(Object.isFrozen(a.http!.headers)).toBe(true);
    expect(Object.isFrozen(a.http!.expectStatus)).toBe(true);
    expect(Object.isFrozen(a.env)).toBe(true);
    expect(() => {
      a.http!.headers.x = 'y';
    }).toThrow(TypeError);
    // Each job's own fields stay its own.
    a.lastTickAt = T + 1;
    expect(b.lastTickAt).toBe(T);
  });
});

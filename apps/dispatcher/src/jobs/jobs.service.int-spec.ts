// Issue 11, item 1: overlapping PATCHes on both dialects. Each PATCH reads the job, merges and writes; the
// repository below parks writes until the test lets them go, so two read-merge-writes interleave exactly as two
// requests on two connections can (both read, then both write). Without If-Match the later writer re-reads and
// merges again, so both changes are kept; with If-Match the later one is refused as stale. No interleaving may store
// a job that is invalid as a whole (an http job without its request, a shell job without its command).
import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { SecretBox } from '@app/common';
import {
  ApiReads,
  dataSourceOptions,
  JobEntity,
  JobGraphRepository,
  JobsRepository,
  migrate,
  RunLinksRepository,
  RunsRepository,
} from '@app/persistence';
import { mysqlDialect, sqliteDialect } from '../../../../test/support/ledger-dialects';
import type { EventsService } from '../events/events.service';
import type { RunCanceller } from '../launching/run-canceller.service';
import type { RunLauncher } from '../launching/run-launcher.service';
import type { SchedulerService } from '../scheduling/scheduler.service';
import type { CreateJobDto } from './dto/create-job.dto';
import type { UpdateJobDto } from './dto/update-job.dto';
import type { IfMatch } from './job-etag';
import { JobsService } from './jobs.service';

/**
 * A JobsRepository whose next `hold` writes wait until the test opens them, oldest first: a read-merge-write paused
 * between its read and its write. `beforeWrite` runs before every write (a writer that always gets there first).
 */
class ParkedWrites extends JobsRepository {
  hold = 0;
  writes = 0;
  beforeWrite: (() => Promise<void>) | null = null;
  private readonly parked: (() => void)[] = [];
  private readonly watchers: (() => void)[] = [];

  override async update(...args: Parameters<JobsRepository['update']>): ReturnType<JobsRepository['update']> {
    if (this.hold > 0) {
      this.hold--;
      await new Promise<void>((open) => {
        this.parked.push(open);
        for (const w of this.watchers.splice(0)) w();
      });
    }
    await this.beforeWrite?.();
    this.writes++;
    return super.update(...args);
  }

  /** Resolves once `n` writes wait. */
  async waiting(n: number): Promise<void> {
    while (this.parked.length < n) await new Promise<void>((r) => this.watchers.push(r));
  }

  /** Lets the oldest waiting write go on. */
  openOldest(): void {
    this.parked.shift()?.();
  }
}

/** If-Match: "<version>", as the controller's pipe hands it over. */
const ifMatch = (version: number): IfMatch => ({ versions: [version], header: `"${version}"` });

const SHELL: CreateJobDto = { name: 'race', cron: '0 0 1 1 *', type: 'shell', command: 'true' };
const TO_HTTP: UpdateJobDto = { type: 'http', http: { method: 'GET', url: 'http://127.0.0.1:9/' } };

/** The rule a stored job must always satisfy: its task fields match its type. */
function problemsOf(job: JobEntity): string[] {
  const problems: string[] = [];
  if (job.type === 'shell' && !job.command) problems.push('a shell job without a command');
  if (job.type === 'shell' && job.http !== null) problems.push('a shell job with an http request');
  if (job.type === 'http' && (!job.http?.url || !job.http.method)) problems.push('an http job without its request');
  if (job.type === 'http' && job.command !== null) problems.push('an http job with a command');
  return problems;
}

describe.each([{ dialect: sqliteDialect() }, { dialect: mysqlDialect() }])(
  'overlapping PATCHes on $dialect.name',
  ({ dialect }) => {
    let ds: DataSource;
    let jobs: ParkedWrites;
    let service: JobsService;

    beforeAll(async () => {
      Logger.overrideLogger(['warn', 'error']);
      ds = new DataSource(dataSourceOptions(await dialect.fresh()));
      await ds.initialize();
      await migrate(ds);
      jobs = new ParkedWrites(ds);
      // Only the job definition's path is under test: the scheduler and the event feed are told, nothing more.
      const scheduler = { changed: jest.fn(() => Promise.resolve()) } as unknown as SchedulerService;
      const events = { jobChanged: jest.fn() } as unknown as EventsService;
      service = new JobsService(
        jobs,
        new RunsRepository(ds),
        new ApiReads(ds),
        scheduler,
        {} as RunLauncher,
        {} as RunCanceller,
        events,
        new SecretBox(Buffer.alloc(32, 1)),
        new JobGraphRepository(ds, jobs),
        new RunLinksRepository(ds),
      );
    });

    afterAll(async () => {
      if (ds?.isInitialized) await ds.destroy();
      await dialect.cleanup();
    });

    beforeEach(async () => {
      await ds.query('DELETE FROM jobs');
      jobs.hold = 0;
      jobs.writes = 0;
      jobs.beforeWrite = null;
    });

    /**
     * Runs `first` and `second` so that both read the job before either writes, then lets `first` write, then
     * `second`: the interleaving that lost updates.
     */
    async function interleave<A, B>(first: () => Promise<A>, second: () => Promise<B>) {
      jobs.hold = 2;
      const a = first();
      await jobs.waiting(1);
      const b = second();
      await jobs.waiting(2);
      jobs.openOldest();
      const [ra] = await Promise.allSettled([a]);
      jobs.openOldest();
      const [rb] = await Promise.allSettled([b]);
      return [ra, rb] as const;
    }

    it('without If-Match, both of two overlapping PATCHes keep their change (the later one merges again)', async () => {
      const { id } = await service.create(SHELL);
      const [a, b] = await interleave(
        () => service.update(id, { command: 'echo a' }),
        () => service.update(id, { description: 'b' }),
      );
      expect(a.status).toBe('fulfilled');
      expect(b.status).toBe('fulfilled');
      expect(await jobs.findById(id)).toMatchObject({ command: 'echo a', description: 'b', version: 3 });
      expect(jobs.writes).toBe(3); // the later PATCH wrote twice: once refused as stale, once merged again
    });

    it('with If-Match, the later of two PATCHes of the same version gets 412 naming the current version', async () => {
      const { id } = await service.create(SHELL);
      const [a, b] = await interleave(
        () => service.update(id, { command: 'echo a' }, ifMatch(1)),
        () => service.update(id, { description: 'b' }, ifMatch(1)),
      );
      expect(a).toMatchObject({ status: 'fulfilled', value: { version: 2, command: 'echo a' } });
      expect(b).toMatchObject({ status: 'rejected', reason: { code: 'STALE' } });
      expect(b.status === 'rejected' && String((b.reason as Error).message)).toMatch(/version 2\b/);
      expect(await jobs.findById(id)).toMatchObject({ command: 'echo a', description: '', version: 2 });
    });

    it('pause and resume with a stale If-Match are refused too, and leave the job as it was', async () => {
      const { id } = await service.create(SHELL);
      const [a, b] = await interleave(
        () => service.update(id, { description: 'a' }, ifMatch(1)),
        () => service.pause(id, ifMatch(1)),
      );
      expect(a.status).toBe('fulfilled');
      expect(b).toMatchObject({ status: 'rejected', reason: { code: 'STALE' } });
      expect(await jobs.findById(id)).toMatchObject({ enabled: true, version: 2 });
      await expect(service.resume(id, ifMatch(1))).rejects.toMatchObject({ code: 'STALE' });
      await expect(service.pause(id, ifMatch(2))).resolves.toMatchObject({ enabled: false, version: 3 });
      await expect(service.resume(id, ifMatch(2))).rejects.toMatchObject({ code: 'STALE' });
      expect(await jobs.findById(id)).toMatchObject({ enabled: false, version: 3 });
    });

    // A switch to http racing a PATCH that merged against the shell job (which wrote http: null and the old command)
    // stored `type: http` with `http: null`.
    const others: UpdateJobDto[] = [
      { description: 'other' },
      { command: 'echo other' },
      { timeoutMs: 5000 },
      { type: 'shell', command: 'echo other' },
    ];
    it.each(
      others.flatMap((other) => [
        { other, switchFirst: true },
        { other, switchFirst: false },
      ]),
    )(
      'a type switch racing $other (switch first: $switchFirst) never stores an invalid job',
      async ({ other, switchFirst }) => {
        const { id } = await service.create(SHELL);
        const toHttp = () => service.update(id, TO_HTTP);
        const change = () => service.update(id, other);
        const results = switchFirst ? await interleave(toHttp, change) : await interleave(change, toHttp);
        expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
        const stored = (await jobs.findById(id))!;
        expect(problemsOf(stored)).toEqual([]);
        // The later writer decides the type when it names one; else the switch stands.
        expect(stored.type).toBe(switchFirst && other.type ? other.type : 'http');
        if (other.description) expect(stored.description).toBe(other.description);
        if (other.timeoutMs) expect(stored.timeoutMs).toBe(other.timeoutMs);
      },
    );

    it('a job that changes under every merge answers 409 after a bounded number of attempts', async () => {
      const { id } = await service.create(SHELL);
      // Another writer gets in between every read and write of this PATCH.
      jobs.beforeWrite = async () => {
        await ds.query('UPDATE jobs SET version = version + 1 WHERE id = ?', [id]);
      };
      await expect(service.update(id, { description: 'never' })).rejects.toMatchObject({ code: 'CONFLICT' });
      expect(jobs.writes).toBe(5);
      expect(await jobs.findById(id)).toMatchObject({ description: '', version: 6 });
    });

    it('a job deleted between the read and the write is a 404, not a stale version', async () => {
      const { id } = await service.create(SHELL);
      jobs.beforeWrite = async () => {
        await ds.query('DELETE FROM jobs WHERE id = ?', [id]);
      };
      await expect(service.update(id, { description: 'gone' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(jobs.writes).toBe(1);
    });
  },
);

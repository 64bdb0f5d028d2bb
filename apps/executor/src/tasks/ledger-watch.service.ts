import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { LogThrottle, SecretBox } from '@app/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '@app/config';
import {
  JobsRepository,
  retryPolicyOf,
  RunsRepository,
  SCHEMA_VERSION,
  SecretKeyMismatch,
  SettingsRepository,
  verifySecretKey,
  waitForSchema,
} from '@app/persistence';
import { ActiveRuns } from './active-runs';

/** How often the executor compares its runs with the ledger. */
const WATCH_MS = 1000;

/**
 * Keeps this executor's runs in line with the ledger, every second: a run cancelled or declared lost elsewhere (a
 * dispatcher that could not reach us) is stopped here too; a run the ledger says is running here that this process
 * does not hold (a start recorded whose reply was lost, or a run of an earlier process with the same id) is marked
 * lost, so the job's retries apply: nothing else would ever finish it.
 *
 * It also holds the schema gate: until a dispatcher has migrated the database to the version this build writes, no
 * run can be recorded, so the executor takes none (TasksService refuses them naming the reason, Presence stays out of
 * discovery). The wait has no budget: start order is free, and the gRPC server answers meanwhile.
 */
@Injectable()
export class LedgerWatch implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(LedgerWatch.name);
  private readonly failures = new LogThrottle((m) => this.logger.warn(m));
  private timer: NodeJS.Timeout | null = null;
  private readonly stopping = new AbortController();
  private schemaThere = false;
  private schemaWait: Promise<boolean> = Promise.resolve(false);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly runs: RunsRepository,
    private readonly jobs: JobsRepository,
    private readonly active: ActiveRuns,
    @InjectDataSource() private readonly ds: DataSource,
    private readonly settings: SettingsRepository,
    private readonly box: SecretBox,
  ) {}

  /** Starts the wait for the schema in the background: the gRPC server must listen (and answer why) meanwhile. */
  onModuleInit(): void {
    this.schemaWait = waitForSchema(this.ds, Infinity, SCHEMA_VERSION, this.stopping.signal).then(
      async () => {
        if (!(await this.checkKey())) return false;
        this.schemaThere = true;
        this.timer = setInterval(() => void this.pass(), WATCH_MS);
        return true;
      },
      () => false, // stopped before the schema came
    );
  }

  /**
   * The key check waits for the schema too (the settings table is a migration's): until it passed no run is taken.
   * Another key than the database's stops the process: it could open no secret of any job.
   */
  private async checkKey(): Promise<boolean> {
    for (let attempt = 1; !this.stopping.signal.aborted; attempt++) {
      try {
        await verifySecretKey(this.settings, this.box);
        return true;
      } catch (e) {
        if (e instanceof SecretKeyMismatch) {
          this.logger.error(`refusing to start: ${e.message}`);
          process.exit(2);
        }
        this.failures.warn('key', `cannot check the secret key's fingerprint yet: ${(e as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, Math.min(attempt * 500, 5000)));
      }
    }
    return false;
  }

  onApplicationShutdown(): void {
    this.stopping.abort();
    if (this.timer) clearInterval(this.timer);
  }

  /** Why this executor can not take runs yet (the schema is not there), or null once it can. */
  notReadyReason(): string | null {
    if (this.schemaThere) return null;
    return (
      `executor ${this.config.executor.id} waits for a dispatcher to migrate the database schema to ` +
      `${SCHEMA_VERSION}: it takes no runs until then`
    );
  }

  /** Resolves true once the schema is there, false when the executor stops before. */
  schemaReady(): Promise<boolean> {
    return this.schemaWait;
  }

  async pass(): Promise<void> {
    try {
      await this.stopEndedElsewhere();
      await this.releaseOrphans();
    } catch (e) {
      this.failures.warn('watch', `ledger watch failed: ${(e as Error).message}`);
    }
  }

  /** Reserved slots whose task is not launched yet count too: a cancel recorded meanwhile stops the launch. */
  private async stopEndedElsewhere(): Promise<void> {
    const slots = [...this.active.all()].filter((s) => !s.stop);
    const launched = new Set(slots.filter((s) => s.task).map((s) => s.runId));
    for (const { id, status } of await this.runs.findStatuses(slots.map((s) => s.runId))) {
      if (status === 'running' || (status === 'pending' && !launched.has(id))) continue;
      const slot = this.active.get(id);
      if (slot) this.active.stop(slot, { kind: 'cancelled', message: `run is ${status} in the ledger` });
    }
  }

  /** A slot is reserved before the start is recorded, so a run being started is never taken for an orphan. */
  private async releaseOrphans(): Promise<void> {
    const executorId = this.config.executor.id;
    for (const run of await this.runs.findRunningOn([executorId])) {
      if (this.active.has(run.id)) continue;
      const job = await this.jobs.findById(run.jobId);
      const { finished } = await this.runs.finishWithRetry(
        run,
        {
          status: 'lost',
          finishedAt: Date.now(),
          error: `executor ${executorId} is not running it (lost start or restart)`,
        },
        job ? retryPolicyOf(job) : null,
      );
      if (finished) this.logger.warn({ msg: 'orphaned run marked lost', runId: run.id, jobId: run.jobId, executorId });
    }
  }
}

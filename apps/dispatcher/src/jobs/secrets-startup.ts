import { Injectable, Logger } from '@nestjs/common';
import { SecretBox } from '@app/common';
import {
  JobEntity,
  JobsRepository,
  SecretKeyMismatch,
  SETTINGS,
  SettingsRepository,
  verifySecretKey,
} from '@app/persistence';
import { changedSecrets } from './secret-changes';

/** Header names whose values are credentials: stored before secrets existed, moved into secretHeaders once. */
export { CREDENTIAL_HEADER } from './secret-changes';
import { CREDENTIAL_HEADER } from './secret-changes';
const PAGE = 500;
const ATTEMPTS = 5;

/**
 * What a dispatcher does with secrets at start, after migrating and before it schedules anything:
 *
 * 1. Checks its key against the fingerprint the database was set up with (recording it when it is the first process
 *    to start), and stops, naming the problem, when they differ.
 * 2. Moves the values of credential headers (Authorization, Proxy-Authorization, Cookie, X-Api-Key) of http jobs
 *    stored before secrets existed from `http.headers` into the sealed `http.secretHeaders`. A migration can not do
 *    it: it has no key. Idempotent and safe with several dispatchers starting together: each job is rewritten with a
 *    compare-and-set on its version (the loser reads it again and finds nothing left to move), and once a pass
 *    finished, a row in gocron_settings makes later starts skip it.
 */
@Injectable()
export class SecretsStartup {
  private readonly logger = new Logger(SecretsStartup.name);

  constructor(
    private readonly settings: SettingsRepository,
    private readonly jobs: JobsRepository,
    private readonly box: SecretBox,
  ) {}

  async run(): Promise<void> {
    try {
      await verifySecretKey(this.settings, this.box);
    } catch (e) {
      if (!(e instanceof SecretKeyMismatch)) throw e;
      process.stderr.write(`gocron dispatcher: refusing to start: ${e.message}\n`);
      process.exit(2);
    }
    if ((await this.settings.get(SETTINGS.secretHeadersMoved)) !== null) return;
    let moved = 0;
    for (let after = 0; ;) {
      const page = await this.jobs.findHttpPage(after, PAGE);
      if (page.length === 0) break;
      for (const job of page) if (await this.moveHeaders(job)) moved++;
      after = page[page.length - 1].id;
    }
    await this.settings.recordOnce(SETTINGS.secretHeadersMoved, new Date().toISOString());
    if (moved > 0) this.logger.log(`moved the credential headers of ${moved} http job(s) into http.secretHeaders`);
  }

  /** Moves one job's credential headers, again onto what won when another dispatcher changed it meanwhile. */
  private async moveHeaders(first: JobEntity): Promise<boolean> {
    let job: JobEntity | null = first;
    for (let attempt = 1; job && attempt <= ATTEMPTS; attempt++) {
      const headers = job.http?.headers ?? {};
      const credentials = Object.entries(headers).filter(([name]) => CREDENTIAL_HEADER.test(name));
      if (!job.http || credentials.length === 0) return false;
      const kept = Object.fromEntries(Object.entries(headers).filter(([name]) => !CREDENTIAL_HEADER.test(name)));
      const given = new Set(credentials.map(([name]) => name.toLowerCase()));
      // A secret header of the same name (any case) gives way: the plain value is the one the job has been sending.
      const existing = Object.entries(job.secrets?.headers ?? {}).filter(([name]) => !given.has(name.toLowerCase()));
      const secrets = changedSecrets(this.box, job.id, job.secrets, {
        headers: { ...Object.fromEntries(existing.map(([name]) => [name, '***'])), ...Object.fromEntries(credentials) },
      });
      const result = await this.jobs.update(job.id, job.version, { http: { ...job.http, headers: kept }, secrets });
      if (result.outcome === 'updated') {
        this.logger.log({
          msg: `job ${job.id}: ${credentials.map(([name]) => name).join(', ')} moved into http.secretHeaders`,
          jobId: job.id,
        });
        return true;
      }
      job = result.outcome === 'stale' ? await this.jobs.findById(job.id) : null;
    }
    if (job)
      this.logger.warn({
        msg: `job ${job.id} kept changing: its credential headers stay where they are`,
        jobId: job.id,
      });
    return false;
  }
}

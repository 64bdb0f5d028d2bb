// Secrets at rest on both dialects: the migration's column and settings table, the race-safe key fingerprint, jobs
// created and changed with secrets through JobsService (sealed in the row, never plaintext), and the start-up step
// that moves credential headers of older jobs into secretHeaders, run by two dispatchers at once.
import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { SecretBox } from '@app/common';
import {
  ApiReads,
  dataSourceOptions,
  JobGraphRepository,
  JobsRepository,
  migrate,
  openSecrets,
  RunLinksRepository,
  RunsRepository,
  SecretKeyMismatch,
  SETTINGS,
  SettingsRepository,
  verifySecretKey,
} from '@app/persistence';
import { mysqlDialect, sqliteDialect } from '../../../../test/support/ledger-dialects';
import type { EventsService } from '../events/events.service';
import type { RunCanceller } from '../launching/run-canceller.service';
import type { RunLauncher } from '../launching/run-launcher.service';
import type { SchedulerService } from '../scheduling/scheduler.service';
import { JobsService } from './jobs.service';
import { SecretsStartup } from './secrets-startup';

const box = new SecretBox(Buffer.alloc(32, 5));
const ONCE_A_YEAR = '0 0 1 1 *';

describe.each([{ dialect: sqliteDialect() }, { dialect: mysqlDialect() }])(
  'secrets on $dialect.name',
  ({ dialect }) => {
    let ds: DataSource;
    let jobs: JobsRepository;
    let settings: SettingsRepository;
    let service: JobsService;

    beforeAll(async () => {
      Logger.overrideLogger(['warn', 'error']);
      ds = new DataSource(dataSourceOptions(await dialect.fresh()));
      await ds.initialize();
      await migrate(ds);
      jobs = new JobsRepository(ds);
      settings = new SettingsRepository(ds);
      service = new JobsService(
        jobs,
        new RunsRepository(ds),
        new ApiReads(ds),
        { changed: jest.fn(() => Promise.resolve()) } as unknown as SchedulerService,
        {} as RunLauncher,
        {} as RunCanceller,
        { jobChanged: jest.fn() } as unknown as EventsService,
        box,
        new JobGraphRepository(ds, jobs),
        new RunLinksRepository(ds),
      );
    });

    afterAll(async () => {
      if (ds?.isInitialized) await ds.destroy();
      await dialect.cleanup();
    });

    const rawSecrets = async (id: number): Promise<string | null> =>
      (await ds.query<{ secrets: string | null }[]>(`SELECT secrets FROM jobs WHERE id = ?`, [id]))[0].secrets;

    it('records the first fingerprint once, whoever races for it, and refuses another key', async () => {
      const values = await Promise.all(['a', 'b', 'c', 'd'].map((v) => settings.recordOnce('race', v)));
      expect(new Set(values).size).toBe(1);
      await verifySecretKey(settings, box);
      await verifySecretKey(settings, new SecretBox(Buffer.alloc(32, 5)));
      expect(await settings.get(SETTINGS.secretKeyFingerprint)).toBe(box.fingerprint);
      const other = new SecretBox(Buffer.alloc(32, 6));
      await expect(verifySecretKey(settings, other)).rejects.toThrow(SecretKeyMismatch);
      await expect(verifySecretKey(settings, other)).rejects.toThrow(
        `(fingerprint ${other.fingerprint}, database ${box.fingerprint})`,
      );
    });

    it('stores secrets sealed in the row and shows only their names', async () => {
      const created = await service.create({
        name: 'with-secrets',
        cron: ONCE_A_YEAR,
        type: 'http',
        http: { method: 'GET', url: 'http://127.0.0.1:9/x', secretHeaders: { 'X-Api-Key': 'key-value-9876' } },
        secretEnv: { TOKEN: 'token-value-1234' },
      });
      expect(created.secretEnv).toEqual({ TOKEN: '***' });
      expect(created.http?.secretHeaders).toEqual({ 'X-Api-Key': '***' });
      expect(created.enabled).toBe(true);
      const raw = await rawSecrets(created.id);
      expect(raw).not.toMatch(/token-value|key-value/);
      expect(JSON.parse(raw!)).toEqual({
        env: { TOKEN: expect.stringMatching(/^v1\./) as unknown },
        headers: { 'X-Api-Key': expect.stringMatching(/^v1\./) as unknown },
      });
      const row = await jobs.findById(created.id);
      expect(row?.http).not.toHaveProperty('secretHeaders');
      expect(openSecrets(box, row!)).toEqual({
        env: { TOKEN: 'token-value-1234' },
        headers: { 'X-Api-Key': 'key-value-9876' },
      });
      // The raw-row path the executor reads (findForLaunch) maps the column too.
      const [launched] = await jobs.findForLaunch([created.id]);
      expect(openSecrets(box, launched)).toEqual(openSecrets(box, row!));
    });

    it('PATCH keeps, replaces and removes by name; a shell job has no secret headers', async () => {
      const job = await service.create({
        name: 'patched',
        cron: ONCE_A_YEAR,
        type: 'http',
        http: { method: 'GET', url: 'http://127.0.0.1:9/x', secretHeaders: { Authorization: 'auth-1111' } },
        secretEnv: { A: 'alpha-1111', B: 'beta-2222' },
      });
      await service.update(job.id, { secretEnv: { A: '***', C: 'gamma-3333' } });
      // An http change without secretHeaders keeps them.
      await service.update(job.id, { http: { method: 'POST', url: 'http://127.0.0.1:9/y' } });
      let row = await jobs.findById(job.id);
      expect(openSecrets(box, row!)).toEqual({
        env: { A: 'alpha-1111', C: 'gamma-3333' },
        headers: { Authorization: 'auth-1111' },
      });
      await expect(service.update(job.id, { env: { C: 'plain' } })).rejects.toThrow('C is in both env and secretEnv');
      await service.update(job.id, { type: 'shell', command: 'true', secretEnv: null });
      row = await jobs.findById(job.id);
      expect(row?.secrets).toBeNull();
      expect(await rawSecrets(job.id)).toBeNull();
    });

    it('moves credential headers of older jobs into secretHeaders once, with two dispatchers starting together', async () => {
      const created = await service.create({
        name: 'old-style',
        cron: ONCE_A_YEAR,
        type: 'http',
        http: { method: 'GET', url: 'http://127.0.0.1:9/x', headers: { 'X-Trace': 't' } },
      });
      // As an older build stored them: credential headers among the plain ones (the API now moves them itself).
      const stored = (await jobs.findById(created.id))!;
      await jobs.update(created.id, stored.version, {
        http: { ...stored.http!, headers: { authorization: 'Bearer old-1234', Cookie: 'c=1', 'X-Trace': 't' } },
      });
      const old = created;
      const plain = await service.create({
        name: 'plain-http',
        cron: ONCE_A_YEAR,
        type: 'http',
        http: { method: 'GET', url: 'http://127.0.0.1:9/z' },
      });
      await ds.query(`DELETE FROM gocron_settings WHERE name = ?`, [SETTINGS.secretHeadersMoved]);
      const before = (await jobs.findById(old.id))!.version;
      const startups = [new SecretsStartup(settings, jobs, box), new SecretsStartup(settings, jobs, box)];
      await Promise.all(startups.map((s) => s.run()));
      const moved = await jobs.findById(old.id);
      expect(moved?.http?.headers).toEqual({ 'X-Trace': 't' });
      expect(openSecrets(box, moved!)).toEqual({
        env: {},
        headers: { authorization: 'Bearer old-1234', Cookie: 'c=1' },
      });
      expect(moved?.version).toBe(before + 1); // moved once, not twice
      expect((await jobs.findById(plain.id))?.version).toBe(plain.version);
      expect(await settings.get(SETTINGS.secretHeadersMoved)).not.toBeNull();
      // A credential header sent as a plain one now is moved by the API itself, the stored secret ones kept.
      await service.update(old.id, {
        http: { method: 'GET', url: 'http://127.0.0.1:9/x', headers: { 'X-Api-Key': 'k-2' } },
      });
      const after = (await jobs.findById(old.id))!;
      expect(after.http?.headers).toEqual({});
      expect(openSecrets(box, after)).toEqual({
        env: {},
        headers: { authorization: 'Bearer old-1234', Cookie: 'c=1', 'X-Api-Key': 'k-2' },
      });
    });
  },
);

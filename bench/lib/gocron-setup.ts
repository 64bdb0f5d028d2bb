// One gocron-ts setup under test, embedded (SQLite, static discovery) or cluster (MariaDB + Redis + etcd), with
// a fresh database and fresh key prefixes: its environment, its processes (run from the dist/ snapshot), the bench's
// own ledger connection, and the one way every scenario brings it up.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { createMysqlDatabase, freePort, testServices } from '../../test/support/services';
import { waitFor } from '../../test/support/wait';
import { apiFetch, benchApiToken } from './api';
import type { Bench } from './bench';
import { LedgerDb, openMysqlLedger, openSqliteLedger } from './ledger-db';
import type { GocronMode } from './options';
import { BenchProcess, measuredEnv } from './processes';
import { deleteRedisPrefix } from './redis';
import type { GocronApp } from './workspace';

/**
 * A variant of a scenario's gocron-ts setup: a name for its tags, env for its processes, and shared services sampled
 * besides the mode's (bench/rabbitmq.ts: the broker's `[rabbitmq]` keys and its beam.smp).
 */
export interface SetupVariant {
  name: string;
  env: Record<string, string>;
  services: Record<string, number | null>;
}

export const PLAIN: SetupVariant = { name: '', env: {}, services: {} };

export const variantTag = (scenario: string, mode: GocronMode, v: SetupVariant, n: number): string =>
  [scenario, mode, v.name, String(n)].filter(Boolean).join('-');

export interface Running {
  dispatchers: BenchProcess[];
  executors: BenchProcess[];
}

export class GocronSetup {
  /** The first dispatcher's API. */
  readonly base: string;
  private procs: BenchProcess[] = [];
  private ledger: LedgerDb | null = null;

  private constructor(
    private readonly bench: Bench,
    readonly mode: GocronMode,
    readonly tag: string,
    private readonly env: Record<string, string>,
    private readonly openLedger: () => LedgerDb,
    private readonly cleanup: () => Promise<void>,
  ) {
    this.base = `http://127.0.0.1:${env.GOCRON_DISPATCHER_PORT}`;
  }

  /** `extraEnv`: added to every process of the setup (bench/rabbitmq.ts: the `[rabbitmq]` keys). */
  static async create(
    bench: Bench,
    mode: GocronMode,
    tag: string,
    extraEnv: Record<string, string> = {},
  ): Promise<GocronSetup> {
    const dispPort = await freePort();
    const execPort = await freePort();
    const env: Record<string, string> = {
      ...measuredEnv(),
      GOCRON_DISPATCHER_PORT: String(dispPort),
      GOCRON_DISPATCHER_ID: `bench-d-${tag}`,
      GOCRON_EXECUTOR_PORT: String(execPort),
      GOCRON_EXECUTOR_ID: `bench-e-${tag}`,
      GOCRON_EXECUTOR_CAPACITY: String(bench.opts.capacity),
      GOCRON_EXECUTOR_DRAIN_TIMEOUT: '2',
      // Auth on, as it ships: the dispatchers accept the bench's token as admin, and apiFetch sends it.
      GOCRON_AUTH_ADMIN_TOKEN: benchApiToken(),
      // [executor] token as it ships: every gRPC call of this setup's dispatchers carries it and is checked.
      GOCRON_EXECUTOR_TOKEN: randomBytes(24).toString('base64url'),
      ...extraEnv,
    };
    if (mode === 'embedded') {
      const dir = mkdtempSync(bench.work.file(`sqlite-${tag}-`));
      const file = join(dir, 'gocron.sqlite');
      Object.assign(env, {
        GOCRON_DATABASE_TYPE: 'sqlite',
        GOCRON_DATABASE_PATH: file,
        GOCRON_EXECUTOR_STATIC_TARGETS: `127.0.0.1:${execPort}`,
      });
      // BENCH_KEEP=1 keeps the SQLite file beside the logs, for a look at the ledger afterwards.
      const cleanup = (): Promise<void> => {
        if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
        return Promise.resolve();
      };
      return new GocronSetup(bench, mode, tag, env, () => openSqliteLedger(file), cleanup);
    }
    const svc = testServices();
    const id = `${bench.runId}_${tag}`.replace(/[^a-z0-9_]/gi, '_');
    const database = await createMysqlDatabase(`bench ${tag}`, { collation: 'utf8mb4_bin' });
    Object.assign(env, database.env, {
      GOCRON_REDIS_URL: svc.redisUrl,
      GOCRON_REDIS_PREFIX: `gocron-bench-${id}`,
      GOCRON_ETCD_HOSTS: svc.etcdHosts,
      GOCRON_ETCD_PREFIX: `/gocron-bench-${id}`,
    });
    const cleanup = async (): Promise<void> => {
      await database.drop().catch(() => {});
      await deleteRedisPrefix(env.GOCRON_REDIS_PREFIX);
      try {
        const etcd = new Etcd3({ hosts: svc.etcdHosts.split(',') });
        await etcd.delete().prefix(env.GOCRON_ETCD_PREFIX);
        etcd.close();
      } catch {
        // best effort
      }
    };
    return new GocronSetup(bench, mode, tag, env, () => openMysqlLedger(database), cleanup);
  }

  /** The bench's connection to the ledger, open once migrate() ran. */
  get db(): LedgerDb {
    if (!this.ledger) throw new Error(`${this.tag}: the ledger is not open yet (migrate() first)`);
    return this.ledger;
  }

  health(base = this.base): Promise<boolean> {
    return apiFetch(base, '/api/health').then((r) => r.status === 200);
  }

  /** A dispatcher; W5 starts a second one under another name, with its own port and id in extraEnv. */
  startDispatcher(extraArgs: string[] = [], extraEnv: Record<string, string> = {}, name = 'dispatcher'): BenchProcess {
    return this.startApp('dispatcher', name, extraArgs, extraEnv);
  }

  startExecutor(extraEnv: Record<string, string> = {}, name = 'executor'): BenchProcess {
    return this.startApp('executor', name, [], extraEnv);
  }

  private startApp(app: GocronApp, name: string, extraArgs: string[], extraEnv: Record<string, string>): BenchProcess {
    // BENCH_CPU_PROF=DIR: dispatcher and executor run with --cpu-prof (the profile is written at a clean exit)
    const dir = process.env.BENCH_CPU_PROF;
    const prof = dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}-${this.tag}.cpuprofile`] : [];
    const p = this.bench.procs.start(`${name}-${this.tag}`, [...prof, ...extraArgs, this.bench.work.appMain(app)], {
      ...this.env,
      ...extraEnv,
    });
    this.procs.push(p);
    return p;
  }

  /** Runs the migrations (one dispatcher start), then opens the bench's own connection. */
  async migrate(): Promise<void> {
    const d = this.startDispatcher();
    await waitFor(() => this.health(), {
      timeoutMs: 60_000,
      intervalMs: 20,
      what: `${this.tag} dispatcher health (migration)`,
    });
    await d.stop();
    this.procs = this.procs.filter((p) => p !== d);
    this.ledger = this.openLedger();
  }

  waitExecutors(n = 1, base = this.base): Promise<unknown> {
    return waitFor(async () => ((await (await apiFetch(base, '/api/executors')).json()) as unknown[]).length >= n, {
      timeoutMs: 60_000,
      intervalMs: 20,
      what: `${n} executor(s) at ${base}`,
    });
  }

  /**
   * Starts `executors` executors, then `dispatchers` dispatchers (the first of each on the setup's ports and ids,
   * the others on ports and ids of their own), and waits until every dispatcher has scheduled its jobs, answers
   * /api/health and sees every executor.
   */
  async up(dispatchers = 1, executors = 1): Promise<Running> {
    const running: Running = { dispatchers: [], executors: [] };
    for (let i = 1; i <= executors; i++) {
      const extra: Record<string, string> =
        i === 1
          ? {}
          : { GOCRON_EXECUTOR_PORT: String(await freePort()), GOCRON_EXECUTOR_ID: `bench-e-${this.tag}-${i}` };
      running.executors.push(this.startExecutor(extra, i === 1 ? 'executor' : `executor${i}`));
    }
    const bases: string[] = [];
    for (let i = 1; i <= dispatchers; i++) {
      const port = i === 1 ? null : await freePort();
      const extra: Record<string, string> =
        port === null ? {} : { GOCRON_DISPATCHER_PORT: String(port), GOCRON_DISPATCHER_ID: `bench-d-${this.tag}-${i}` };
      running.dispatchers.push(this.startDispatcher([], extra, i === 1 ? 'dispatcher' : `dispatcher${i}`));
      bases.push(port === null ? this.base : `http://127.0.0.1:${port}`);
    }
    await Promise.all(running.dispatchers.map((d) => d.waitForOutput(/scheduling (\d+) enabled job/, 120_000)));
    for (const base of bases) {
      await waitFor(() => this.health(base), {
        timeoutMs: 60_000,
        intervalMs: 20,
        what: `dispatcher health at ${base}`,
      });
      await this.waitExecutors(executors, base);
    }
    return running;
  }

  /** Stops its processes (newest first), closes the ledger connection, drops the database and key prefixes. */
  async dispose(): Promise<void> {
    for (const p of [...this.procs].reverse()) await p.stop().catch(() => {});
    if (this.ledger) await this.ledger.close().catch(() => {});
    await this.cleanup().catch(() => {});
  }
}

/** Runs `fn` on a fresh setup, disposed of afterwards. */
export async function withGocron<T>(
  bench: Bench,
  mode: GocronMode,
  tag: string,
  fn: (g: GocronSetup) => Promise<T>,
  extraEnv: Record<string, string> = {},
): Promise<T> {
  const g = await GocronSetup.create(bench, mode, tag, extraEnv);
  try {
    return await fn(g);
  } finally {
    await g.dispose();
  }
}

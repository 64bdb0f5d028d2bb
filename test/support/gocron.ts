// Starting gocron's own apps for end-to-end suites: a dispatcher and executors on a chosen database, with ports
// and state of their own, and a small client for the REST API that signs in with the suites' admin token.
import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { join } from 'node:path';
import { ExecutorGrpcClient } from '../../apps/dispatcher/src/executor-client/executor-grpc.client';
import { plaintextLink } from '../../apps/dispatcher/src/executor-client/executor-link';
import { AppProcess, httpJson, HttpResult, startApp, TEST_EXECUTOR_TOKEN } from './processes';
import { freePort, tmpDir } from './services';
import { waitFor } from './wait';

/**
 * The admin token every dispatcher a suite starts is configured with (GOCRON_AUTH_ADMIN_TOKEN), and the one `Api`
 * sends by default: `gct_` + 43 base64url characters, as API tokens look. Derived, not random, so that a failing
 * suite's dispatcher can be reached by hand with the same token.
 */
export const TEST_ADMIN_TOKEN = `gct_${createHash('sha256').update('gocron-ts e2e admin token').digest('base64url')}`;

/**
 * The key for secrets at rest (GOCRON_AUTH_SECRET_KEY) of the processes a suite starts: random per suite (jest loads
 * this module once per test file), the same for its dispatchers and executors.
 */
export const TEST_SECRET_KEY = randomBytes(32).toString('base64url');

/** `authorization: Bearer <token>`, for requests made without `Api` (fetch, node:http). */
export function bearer(token: string = TEST_ADMIN_TOKEN): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

export interface Dispatcher {
  app: AppProcess;
  base: string;
  port: number;
}

export interface StartDispatcherOptions {
  /** Working directory (default: the repository root); `data/admin-token` lands there when no token is configured. */
  cwd?: string;
}

/**
 * A dispatcher on `env`, ready once /api/health answers 200. It is configured with TEST_ADMIN_TOKEN unless `env`
 * names GOCRON_AUTH_ADMIN_TOKEN itself; `GOCRON_AUTH_ADMIN_TOKEN: undefined` starts it with no admin token
 * configured (it then bootstraps from `<cwd>/data/admin-token`).
 */
export async function startDispatcher(
  env: Record<string, string | undefined>,
  name = 'dispatcher',
  port?: number,
  opts: StartDispatcherOptions = {},
): Promise<Dispatcher> {
  const p = port ?? (await freePort());
  const base = `http://127.0.0.1:${p}`;
  const merged: Record<string, string | undefined> = {
    GOCRON_DISPATCHER_PORT: String(p),
    GOCRON_DISPATCHER_ID: name,
    GOCRON_AUTH_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    GOCRON_AUTH_SECRET_KEY: TEST_SECRET_KEY,
    ...env,
  };
  const app = await startApp('dispatcher', {
    name,
    env: definedOnly(merged),
    cwd: opts.cwd,
    ready: async () => (await httpJson('GET', `${base}/api/health`)).status === 200,
    readyTimeoutMs: 60_000,
  });
  return { app, base, port: p };
}

function definedOnly(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  return out;
}

export interface Executor {
  app: AppProcess;
  address: string;
}

export async function startExecutor(env: Record<string, string>, name = 'executor', port?: number): Promise<Executor> {
  const p = port ?? (await freePort());
  // Ready once its gRPC port accepts connections (it listens only after the schema exists).
  const app = await startApp('executor', {
    name,
    env: { GOCRON_EXECUTOR_PORT: String(p), GOCRON_EXECUTOR_ID: name, GOCRON_AUTH_SECRET_KEY: TEST_SECRET_KEY, ...env },
    ready: () => canConnect(p),
    readyTimeoutMs: 60_000,
  });
  return { app, address: `127.0.0.1:${p}` };
}

/**
 * A gRPC client to an executor, as a dispatcher of the suite calls it: plaintext, with TEST_EXECUTOR_TOKEN (or
 * `token`; '' sends none). Close it after use.
 */
export function executorClient(address: string, token: string = TEST_EXECUTOR_TOKEN): ExecutorGrpcClient {
  return new ExecutorGrpcClient(address, plaintextLink(token));
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** An embedded-default setup on a fresh SQLite file (or the given database env), ports of its own. */
export async function sqliteEnv(suite: string): Promise<Record<string, string>> {
  return { GOCRON_DATABASE_TYPE: 'sqlite', GOCRON_DATABASE_PATH: join(tmpDir(suite), 'gocron.sqlite') };
}

export interface Job {
  id: number;
  name: string;
  enabled: boolean;
  [k: string]: unknown;
}

export interface Run {
  id: number;
  jobId: number;
  scheduledAt: string;
  trigger: string;
  attempt: number;
  status: string;
  executorId: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  exitCode: number | null;
  httpStatus: number | null;
  output: string | null;
  error: string | null;
  skippedCount: number;
  skippedUntil: string | null;
}

/**
 * The REST API of one dispatcher, as the holder of `token` (default TEST_ADMIN_TOKEN; null: no credentials).
 * Throws on an unexpected status, naming it and the body.
 */
export class Api {
  constructor(
    readonly base: string,
    readonly token: string | null = TEST_ADMIN_TOKEN,
  ) {}

  /** The same dispatcher as the holder of another token (null: unauthenticated). */
  withToken(token: string | null): Api {
    return new Api(this.base, token);
  }

  /** The credentials this client sends, for requests made without it (fetch of /api/events, node:http). */
  authHeaders(): Record<string, string> {
    return this.token === null ? {} : bearer(this.token);
  }

  async call<T>(
    method: string,
    path: string,
    body?: unknown,
    expect?: number,
    headers: Record<string, string> = {},
  ): Promise<HttpResult<T>> {
    const res = await httpJson<T>(method, `${this.base}${path}`, body, {
      headers: { ...this.authHeaders(), ...headers },
    });
    if (expect !== undefined && res.status !== expect) {
      throw new Error(`${method} ${path}: expected ${expect}, got ${res.status}: ${JSON.stringify(res.body)}`);
    }
    return res;
  }

  async createJob(job: Record<string, unknown>): Promise<Job> {
    return (await this.call<Job>('POST', '/api/jobs', job, 201)).body;
  }

  /** POST /api/jobs/:id/trigger; the new run's id. */
  async trigger(jobId: number): Promise<number> {
    return (await this.call<{ runId: number }>('POST', `/api/jobs/${jobId}/trigger`, undefined, 202)).body.runId;
  }

  async runs(jobId: number, query = 'limit=500'): Promise<Run[]> {
    return (await this.call<{ items: Run[] }>('GET', `/api/jobs/${jobId}/runs?${query}`, undefined, 200)).body.items;
  }

  async run(id: number): Promise<Run> {
    return (await this.call<Run>('GET', `/api/runs/${id}`, undefined, 200)).body;
  }

  /** Waits until the job has a run matching `pred`, and returns it. */
  waitForRun(jobId: number, pred: (r: Run) => boolean, what: string, timeoutMs = 15_000): Promise<Run> {
    return waitFor(async () => (await this.runs(jobId)).find(pred), { timeoutMs, what, intervalMs: 200 });
  }

  waitForRunStatus(runId: number, statuses: string[], timeoutMs = 15_000): Promise<Run> {
    return waitFor(
      async () => {
        const r = await this.run(runId);
        return statuses.includes(r.status) ? r : undefined;
      },
      { timeoutMs, what: `run ${runId} becomes ${statuses.join('|')}`, intervalMs: 100 },
    );
  }
}

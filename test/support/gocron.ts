// Starting gocron's own apps for end-to-end suites: a dispatcher and executors on a chosen database, with ports
// and state of their own, and a small client for the REST API.
import { connect } from 'node:net';
import { join } from 'node:path';
import { AppProcess, httpJson, startApp } from './processes';
import { freePort, tmpDir } from './services';
import { waitFor } from './wait';

export interface Dispatcher {
  app: AppProcess;
  base: string;
  port: number;
}

export async function startDispatcher(
  env: Record<string, string>,
  name = 'dispatcher',
  port?: number,
): Promise<Dispatcher> {
  const p = port ?? (await freePort());
  const base = `http://127.0.0.1:${p}`;
  const app = await startApp('dispatcher', {
    name,
    env: { GOCRON_DISPATCHER_PORT: String(p), GOCRON_DISPATCHER_ID: name, ...env },
    ready: async () => (await httpJson('GET', `${base}/api/health`)).status === 200,
    readyTimeoutMs: 60_000,
  });
  return { app, base, port: p };
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
    env: { GOCRON_EXECUTOR_PORT: String(p), GOCRON_EXECUTOR_ID: name, ...env },
    ready: () => canConnect(p),
    readyTimeoutMs: 60_000,
  });
  return { app, address: `127.0.0.1:${p}` };
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
}

/** The REST API of one dispatcher. Throws on an unexpected status, naming it and the body. */
export class Api {
  constructor(readonly base: string) {}

  async call<T>(method: string, path: string, body?: unknown, expect?: number): Promise<{ status: number; body: T }> {
    const res = await httpJson<T>(method, `${this.base}${path}`, body);
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

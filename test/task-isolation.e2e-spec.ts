// Task isolation end to end (issue 13, item 4): a dispatcher and real executor processes on SQLite; shell tasks try
// to read the executor's environment and database, to keep a setsid process alive past their run and past a
// SIGKILLed executor, and to use file descriptors the executor inherited. The run_as part needs root (CI runs as
// root) and creates the user gocron_task_test when missing.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { Api, Dispatcher, Run, sqliteEnv, startDispatcher, TEST_SECRET_KEY } from './support/gocron';
import { AppProcess, cleanEnv, markedSleep, pidsWithArg, REPO_ROOT, startApp, stopAllApps } from './support/processes';
import { freePort } from './support/services';
import { waitFor } from './support/wait';

const ONCE_A_YEAR = '0 0 1 1 *';
const TASK_USER = 'gocron_task_test';
const IS_ROOT = process.getuid?.() === 0;
const SECRET = 'e2e-executor-secret-7f3a9c';
/** Every allowed command ends with it; anything else is refused by allowed_commands. */
const ALLOWED = ': gocron-e2e-allowed';

if (!IS_ROOT) {
  process.stderr.write(`task-isolation.e2e: not root, so the [executor] run_as tests are SKIPPED (CI runs them)\n`);
}

function ensureTaskUser(): void {
  if (spawnSync('id', ['-u', TASK_USER]).status === 0) return;
  execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', TASK_USER]);
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

let jobs = 0;

describe('task isolation', () => {
  let env: Record<string, string>;
  let dispatcher: Dispatcher;
  let api: Api;
  let executor: AppProcess;
  let executorPort: number;

  async function startIsolatedExecutor(name: string): Promise<AppProcess> {
    const app = await startApp('executor', {
      name,
      env: {
        ...env,
        GOCRON_EXECUTOR_PORT: String(executorPort),
        GOCRON_EXECUTOR_ID: name,
        // The dispatcher's key (startDispatcher gives it the suite's): secrets open only with it.
        GOCRON_AUTH_SECRET_KEY: TEST_SECRET_KEY,
        GOCRON_EXECUTOR_RUN_AS: IS_ROOT ? TASK_USER : '',
        GOCRON_EXECUTOR_ALLOWED_COMMANDS: `* ${ALLOWED}`,
        // Read by nothing on SQLite: it is here to be stolen.
        GOCRON_DATABASE_PASSWORD: SECRET,
      },
      inheritedFd: true,
      ready: () => canConnect(executorPort),
      readyTimeoutMs: 60_000,
    });
    await waitFor(async () => (await api.call<unknown[]>('GET', '/api/executors')).body.length === 1, {
      timeoutMs: 15_000,
      what: 'the executor is listed',
    });
    return app;
  }

  async function runToEnd(command: string, timeoutMs = 20_000): Promise<Run> {
    const job = await api.createJob({ name: `iso-${++jobs}`, cron: ONCE_A_YEAR, type: 'shell', command });
    const runId = await api.trigger(job.id);
    return api.waitForRunStatus(runId, ['succeeded', 'failed', 'timed_out', 'cancelled', 'lost'], timeoutMs);
  }

  beforeAll(async () => {
    if (IS_ROOT) ensureTaskUser();
    env = await sqliteEnv('task-isolation');
    // A data directory others may enter, as /var/lib/gocron often is: the database file itself must be closed to them.
    chmodSync(dirname(env.GOCRON_DATABASE_PATH), 0o755);
    executorPort = await freePort();
    dispatcher = await startDispatcher(
      { ...env, GOCRON_EXECUTOR_STATIC_TARGETS: `127.0.0.1:${executorPort}` },
      'isolation-dispatcher',
    );
    api = new Api(dispatcher.base);
    executor = await startIsolatedExecutor('isolation-executor');
  }, 120_000);

  afterAll(async () => {
    await stopAllApps();
  });

  (IS_ROOT ? it : it.skip)(
    'runs as [executor] run_as, which can read neither the executor environment nor its database',
    async () => {
      const db = env.GOCRON_DATABASE_PATH;
      const run = await runToEnd(
        [
          'id -un; id -u',
          `cat /proc/${executor.pid}/environ >/dev/null 2>&1 && echo environ-readable || echo environ-denied`,
          `cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c ${SECRET.slice(0, 12)} || true`,
          `head -c 16 ${db} >/dev/null 2>&1 && echo db-readable || echo db-denied`,
          ALLOWED,
        ].join('; '),
      );
      expect(run.status).toBe('succeeded');
      const [name, uid, environ, secretCount, database] = (run.output ?? '').trim().split('\n');
      expect(name).toBe(TASK_USER);
      expect(uid).toBe(execFileSync('id', ['-u', TASK_USER], { encoding: 'utf8' }).trim());
      expect(environ).toBe('environ-denied');
      expect(secretCount).toBe('0');
      expect(database).toBe('db-denied');
      expect(run.output).not.toContain(SECRET);
      expect(statSync(db).mode & 0o077).toBe(0);
      // And as the executor's own user the same reads work, so the checks above can fail.
      expect(readFileSync(`/proc/${executor.pid}/environ`, 'utf8')).toContain(SECRET);
    },
  );

  it('starts in a temporary directory of its own that is gone after the run, and sees only fds 0, 1 and 2', async () => {
    // `ls` straight to the task's output, one name a line: in `ls … | tr …` the shell itself holds the pipe's ends
    // while it starts the two (and a redirection saves its stdout on fd 10), and `ls` may catch it doing so.
    const run = await runToEnd(`pwd; ls /proc/$$/fd; ${ALLOWED}`);
    expect(run.status).toBe('succeeded');
    const [cwd, ...fds] = (run.output ?? '').trim().split('\n');
    expect(cwd).toMatch(/\/gocron-run-[^/]+$/);
    expect(cwd).not.toBe(REPO_ROOT);
    expect(existsSync(cwd)).toBe(false);
    expect(fds.join(' ')).toBe('0 1 2');
    // The executor does hold the inherited fd 3, so the task could have got it.
    expect(existsSync(`/proc/${executor.pid}/fd/3`)).toBe(true);
  });

  it('refuses a command that no [executor] allowed_commands pattern matches, without running it', async () => {
    const run = await runToEnd('echo ran');
    expect(run).toMatchObject({ status: 'failed', exitCode: null });
    expect(run.error).toContain('[executor] allowed_commands');
    expect(run.output ?? '').not.toContain('ran');
  });

  it('ends a setsid grandchild with its run', async () => {
    const m = markedSleep();
    const run = await runToEnd(`setsid sleep ${m} & sleep 0.2; ${ALLOWED}`);
    expect(run.status).toBe('succeeded');
    await waitFor(() => pidsWithArg(m).length === 0, { timeoutMs: 5000, what: 'the setsid sleep to end with its run' });
  });

  // Last: it kills the suite's executor.
  it('ends every process of a running task, setsid included, when its executor is SIGKILLed', async () => {
    const [escaped, foreground] = [markedSleep(), markedSleep()];
    const job = await api.createJob({
      name: 'iso-sigkill',
      cron: ONCE_A_YEAR,
      type: 'shell',
      command: `setsid sleep ${escaped} & sleep ${foreground}; ${ALLOWED}`,
    });
    await api.trigger(job.id);
    await waitFor(() => pidsWithArg(escaped).length === 1 && pidsWithArg(foreground).length === 1, {
      timeoutMs: 15_000,
      what: 'both sleeps to run',
    });
    await executor.kill('SIGKILL');
    await waitFor(() => pidsWithArg(escaped).length === 0 && pidsWithArg(foreground).length === 0, {
      timeoutMs: 5000,
      what: 'both sleeps to die with their executor',
    });
  });

  it('refuses to start with a run_as user that does not exist, naming the key', () => {
    const main = join(REPO_ROOT, 'dist', 'apps', 'executor', 'main.js');
    const result = spawnSync(process.execPath, [main], {
      cwd: REPO_ROOT,
      env: { ...cleanEnv(), ...env, GOCRON_EXECUTOR_PORT: '1', GOCRON_EXECUTOR_RUN_AS: 'gocron_no_such_user' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(
      IS_ROOT
        ? "[executor] run_as: no such user 'gocron_no_such_user'"
        : '[executor] run_as: needs the executor to run as root',
    );
  });
});

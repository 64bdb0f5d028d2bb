// The built apps (dist/apps/<app>/main.js) as real child processes, an HTTP/JSON client
// for their APIs, and a recording HTTP stub for the tasks they run.
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, IncomingHttpHeaders, request as httpRequest, ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { clearTimeout, setTimeout } from 'node:timers';
import { waitFor } from './wait';

export const REPO_ROOT = resolve(__dirname, '..', '..');

export type AppName = 'dispatcher' | 'executor';

/**
 * `[executor] token` of every app a suite starts (GOCRON_EXECUTOR_TOKEN, unless the suite's env names it): random per
 * suite (jest loads this module once per test file), so dispatchers and executors of one suite talk and those of two
 * suites running at once never do. `GOCRON_EXECUTOR_TOKEN: ''` starts an app without a token.
 */
export const TEST_EXECUTOR_TOKEN = randomBytes(24).toString('base64url');

export interface StartAppOptions {
  /** Config overrides (GOCRON_*), on top of the cleaned environment. */
  env: Record<string, string>;
  /** Extra command-line arguments, e.g. ['--config', file]. */
  args?: string[];
  /** Resolves true once the app serves; thrown errors count as "not yet". */
  ready: () => Promise<boolean>;
  /** Default 30 s. */
  readyTimeoutMs?: number;
  /** Label for logs and messages; default `<app>-<n>`. */
  name?: string;
  /**
   * Working directory; default the repository root. Relative paths the app resolves (`data/admin-token`, the
   * default `conf/conf.ini`) start there, so startApp passes the repository's conf/conf.ini as `--config` when the
   * directory is another one and `args` name no config file.
   */
  cwd?: string;
  /** Leaves fd 3 open in the app (a pipe, not close-on-exec), as a careless parent would: what its children must not get. */
  inheritedFd?: boolean;
}

export interface AppExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface AppProcess {
  pid: number;
  name: string;
  /** Everything the process wrote to stdout and stderr so far (the newest ~2 MB). */
  logs(): string;
  /** Resolves with the first log line (already written or to come) that matches `re`. */
  waitForLog(re: RegExp, timeoutMs: number): Promise<string>;
  /** Sends `signal` (default SIGTERM), waits for exit (SIGKILL after 15 s); resolves with the exit code. */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<AppExit>;
}

const MAX_LOG_CHARS = 2_000_000;
const KILL_GRACE_MS = 15_000;

interface Tracked {
  app: AppProcess;
  child: ChildProcess;
  exit: AppExit | undefined;
}

// Every app this module started and that has not exited yet. stopAllApps() kills them.
// (No process 'exit' hook: inside jest, `process` is a per-file copy whose 'exit' never fires.)
const registry = new Set<Tracked>();

let counter = 0;

/** Waits for `promise`, but at most `ms`; true when it settled in time. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sends a signal to the child's whole process group (it was spawned detached), falling back to the child. */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** process.env without GOCRON_* settings (GOCRON_TEST_* stay): a developer's shell must not leak config. */
export function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (key.startsWith('GOCRON_') && !key.startsWith('GOCRON_TEST_')) continue;
    env[key] = value;
  }
  return env;
}

function lastLines(text: string, n: number): string {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.slice(-n).join('\n');
}

/**
 * Live (not zombie) processes, as this test sees them, with `arg` among their arguments. A task's own `$$` is no use
 * outside it: shell tasks run in a PID namespace of their own, where the shell is pid 2.
 */
export function pidsWithArg(arg: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.includes(arg) && stat[stat.lastIndexOf(')') + 2] !== 'Z') pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

let markedSleeps = 0;
/** A sleep duration (about 300 s) no other process uses, for pidsWithArg to find the sleep by. */
export function markedSleep(): string {
  return `300.${process.pid}${++markedSleeps}`;
}

/**
 * Spawns `node dist/apps/<app>/main.js` from the repo root and waits until `ready()` is true; the app gets
 * TEST_EXECUTOR_TOKEN unless `opts.env` sets GOCRON_EXECUTOR_TOKEN.
 */
export function startApp(app: AppName, opts: StartAppOptions): Promise<AppProcess> {
  const main = join(REPO_ROOT, 'dist', 'apps', app, 'main.js');
  if (!existsSync(main)) {
    return Promise.reject(new Error(`startApp(${app}): ${main} does not exist; run \`npm run build\` first`));
  }
  const args = opts.args ?? [];
  const namesConfig = args.some((a) => a === '--config' || a.startsWith('--config='));
  const elsewhere = opts.cwd !== undefined && resolve(opts.cwd) !== REPO_ROOT;
  return startNodeScript(main, {
    ...opts,
    env: { GOCRON_EXECUTOR_TOKEN: TEST_EXECUTOR_TOKEN, ...opts.env },
    args: elsewhere && !namesConfig ? ['--config', join(REPO_ROOT, 'conf', 'conf.ini'), ...args] : args,
    name: opts.name ?? `${app}-${++counter}`,
  });
}

/** startApp for any Node.js script (what startApp is built on; the support spec uses it directly). */
export async function startNodeScript(main: string, opts: StartAppOptions): Promise<AppProcess> {
  const name = opts.name ?? `node-${++counter}`;
  const verbose = process.env.GOCRON_TEST_VERBOSE === '1';

  const child = spawn(process.execPath, [main, ...(opts.args ?? [])], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { NO_COLOR: '1', ...cleanEnv(), ...opts.env },
    stdio: opts.inheritedFd ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
    // Own process group: SIGKILL escalation and stopAllApps() also reach the tasks it spawned.
    detached: true,
  });

  // ---- logs: bounded, split into lines, listeners for waitForLog
  let log = '';
  const partial = { stdout: '', stderr: '' };
  const lineListeners = new Set<(line: string) => void>();
  const addLine = (line: string): void => {
    log += `${line}\n`;
    if (log.length > MAX_LOG_CHARS) {
      const cut = log.indexOf('\n', log.length - MAX_LOG_CHARS);
      log = log.slice(cut + 1);
    }
    if (verbose) process.stderr.write(`[${name}] ${line}\n`);
    for (const listener of [...lineListeners]) listener(line);
  };
  const onData = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    const text = partial[stream] + chunk.toString('utf8');
    const lines = text.split('\n');
    partial[stream] = lines.pop() ?? '';
    for (const line of lines) addLine(line.replace(/\r$/, ''));
  };
  child.stdout?.on('data', onData('stdout'));
  child.stderr?.on('data', onData('stderr'));
  const flushPartial = (): void => {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (partial[stream] !== '') {
        const rest = partial[stream];
        partial[stream] = '';
        addLine(rest);
      }
    }
  };

  // ---- exit
  // eslint-disable-next-line prefer-const -- assigned below, after the closures that use it
  let tracked: Tracked;
  const closed = new Promise<void>((resolveClosed) => child.once('close', () => resolveClosed()));
  const exited = new Promise<AppExit>((resolveExit) => {
    child.once('exit', (code, signal) => {
      tracked.exit = { code, signal };
      registry.delete(tracked);
      resolveExit(tracked.exit);
    });
  });
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  spawnError.catch(() => undefined);

  /** Waits (bounded) for the output after exit, then flushes the unterminated last lines. */
  const settleOutput = async (): Promise<void> => {
    await within(closed, 1000);
    flushPartial();
  };

  const exitDescription = (e: AppExit): string => (e.signal ? `signal ${e.signal}` : `exit code ${e.code}`);

  const appProcess: AppProcess = {
    pid: child.pid ?? -1,
    name,
    logs: () => log + partial.stdout + partial.stderr,
    waitForLog(re: RegExp, timeoutMs: number): Promise<string> {
      return new Promise<string>((resolveLog, rejectLog) => {
        const test = (line: string): boolean => {
          re.lastIndex = 0;
          return re.test(line);
        };
        const existing = log.split('\n').find(test);
        if (existing !== undefined) return resolveLog(existing);
        const cleanup = (): void => {
          clearTimeout(timer);
          lineListeners.delete(listener);
        };
        const listener = (line: string): void => {
          if (!test(line)) return;
          cleanup();
          resolveLog(line);
        };
        const timer = setTimeout(() => {
          cleanup();
          rejectLog(
            new Error(
              `${name}: no log line matching ${re} within ${timeoutMs} ms; last lines:\n${lastLines(appProcess.logs(), 40)}`,
            ),
          );
        }, timeoutMs);
        lineListeners.add(listener);
        void exited.then(async (e) => {
          await settleOutput();
          if (!lineListeners.has(listener)) return;
          cleanup();
          rejectLog(
            new Error(
              `${name} exited (${exitDescription(e)}) before logging ${re}; last lines:\n${lastLines(log, 40)}`,
            ),
          );
        });
      });
    },
    async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
      if (tracked.exit) return tracked.exit.code;
      try {
        child.kill(signal);
      } catch {
        // exited meanwhile
      }
      if (!(await within(exited, KILL_GRACE_MS))) {
        process.stderr.write(`[${name}] still running ${KILL_GRACE_MS} ms after ${signal}: SIGKILL\n`);
        killGroup(child, 'SIGKILL');
      }
      const e = await exited;
      await settleOutput();
      return e.code;
    },
    exited,
  };
  tracked = { app: appProcess, child, exit: undefined };
  registry.add(tracked);

  // ---- readiness: poll ready() until true, unless the process dies first
  const abort = new AbortController();
  void exited.then(async (e) => {
    await settleOutput();
    abort.abort(
      new Error(
        `${name} exited (${exitDescription(e)}) before it was ready; last 40 log lines:\n${lastLines(log, 40)}`,
      ),
    );
  });
  void spawnError.catch((err: unknown) => abort.abort(err instanceof Error ? err : new Error(String(err))));
  try {
    await waitFor(async () => (await opts.ready()) === true, {
      timeoutMs: opts.readyTimeoutMs ?? 30_000,
      intervalMs: 100,
      what: `${name} to be ready`,
      signal: abort.signal,
    });
  } catch (err) {
    killGroup(child, 'SIGKILL');
    await within(exited, KILL_GRACE_MS);
    const message = err instanceof Error ? err.message : String(err);
    if (abort.signal.aborted) throw err;
    throw new Error(`${message}\n${name}: last 40 log lines:\n${lastLines(appProcess.logs(), 40)}`);
  }
  return appProcess;
}

/** SIGKILLs every app still running (and its process group) and waits for them; call it in afterAll. */
export async function stopAllApps(): Promise<void> {
  const running = [...registry];
  for (const t of running) killGroup(t.child, 'SIGKILL');
  await Promise.all(running.map((t) => within(t.app.exited, KILL_GRACE_MS)));
}

// --------------------------------------------------------------- HTTP/JSON ---

export interface HttpResult<T = any> {
  status: number;
  /** JSON-parsed when the body is JSON, else the text ('' when empty). */
  body: T;
  headers: IncomingHttpHeaders;
}

/** One request, no keep-alive (nothing stays open after the test); default timeout 10 s. */
export function httpJson<T = any>(
  method: string,
  url: string,
  body?: unknown,
  opts: { timeoutMs?: number; headers?: Record<string, string> } = {},
): Promise<HttpResult<T>> {
  const target = new URL(url);
  const payload = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
  if (payload) {
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = String(payload.length);
  }
  const requestFn = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolveHttp, rejectHttp) => {
    const req = requestFn(target, { method: method.toUpperCase(), headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', rejectHttp);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        if (text !== '') {
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = text;
          }
        }
        resolveHttp({ status: res.statusCode ?? 0, body: parsed as T, headers: res.headers });
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url}: no response within ${timeoutMs} ms`)));
    req.on('error', rejectHttp);
    req.end(payload);
  });
}

// --------------------------------------------------------------- HTTP stub ---

export interface StubRequest {
  method: string;
  /** Path and query, as received. */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Date.now() when the request head arrived. */
  time: number;
}

export interface HttpStub {
  /** http://127.0.0.1:<port>, no trailing slash. */
  url: string;
  requests: StubRequest[];
  close(): Promise<void>;
}

/**
 * A local HTTP server that records every request and answers by path:
 *   /status/<code>  that status, body `{"status":<code>}`
 *   /delay/<ms>     200 after <ms> milliseconds
 *   /slow           never answers (until close())
 *   anything else   200 `{"ok":true}`
 */
export function startHttpStub(): Promise<HttpStub> {
  const requests: StubRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const reply = (res: ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  const server = createServer((req, res) => {
    const time = Date.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '/';
      requests.push({
        method: req.method ?? '',
        url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        time,
      });
      const path = url.split('?')[0];
      const status = /^\/status\/(\d{3})$/.exec(path);
      const delay = /^\/delay\/(\d+)$/.exec(path);
      if (status) {
        reply(res, Number(status[1]), { status: Number(status[1]) });
      } else if (delay) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          reply(res, 200, { ok: true, delayedMs: Number(delay[1]) });
        }, Number(delay[1]));
        timers.add(timer);
      } else if (path === '/slow') {
        // Never answered; close() ends the connection.
      } else {
        reply(res, 200, { ok: true });
      }
    });
  });
  return new Promise((resolveStub, rejectStub) => {
    server.once('error', rejectStub);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolveStub({
        url: `http://127.0.0.1:${port}`,
        requests,
        close: () =>
          new Promise<void>((resolveClose) => {
            for (const t of timers) clearTimeout(t);
            timers.clear();
            server.close(() => resolveClose());
            server.closeAllConnections();
          }),
      });
    });
  });
}

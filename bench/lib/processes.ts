// The measured child processes (apps from the dist/ snapshot, the stub, the BullMQ worker): plain `node <script>`,
// no loader and no inherited NODE_OPTIONS, output kept in <workspace>/<name>.log, all killed when the bench exits
// (also on failure or Ctrl-C). Not test/support's startApp: that one runs dist/ itself, polls for readiness and
// waits 15 s before SIGKILL, where the bench measures a snapshot, starts processes side by side and stops faster.
import { ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createWriteStream } from 'node:fs';
import { cleanEnv, REPO_ROOT } from '../../test/support/processes';
import { sleep } from './clock';
import { Workspace } from './workspace';

const MAX_OUTPUT = 2e6;

export interface ProcessExit {
  code: number | null;
  sig: NodeJS.Signals | null;
}

/** The environment of a measured process: no GOCRON_* settings (test/support's rule), no GOCRON_TEST_*, no NODE_OPTIONS. */
export function measuredEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(cleanEnv())) if (!k.startsWith('GOCRON_') && k !== 'NODE_OPTIONS') env[k] = v;
  return env;
}

export class BenchProcess {
  readonly spawnedAt = Date.now();
  readonly exited: Promise<ProcessExit>;
  private output = '';
  private gone = false;
  private readonly events = new EventEmitter();

  constructor(
    /** Also the name in the resources of the results (`procs[].name`). */
    readonly name: string,
    private readonly child: ChildProcess,
    private readonly logFile: string,
  ) {
    const log = createWriteStream(logFile, { flags: 'a' });
    this.exited = new Promise<ProcessExit>((r) => child.once('exit', (code, sig) => r({ code, sig })));
    const onData = (d: Buffer): void => {
      log.write(d);
      this.output += d.toString();
      if (this.output.length > MAX_OUTPUT) this.output = this.output.slice(-MAX_OUTPUT / 2);
      this.events.emit('change');
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', () => {
      this.gone = true;
      log.end();
      this.events.emit('change');
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get dead(): boolean {
    return this.gone;
  }

  /** How it ended, for a process that exited while it was measured. */
  exitDescription(): string {
    return `code ${this.child.exitCode}, signal ${this.child.signalCode}`;
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  /** Resolves when the output so far matches `re` (the time and the match), rejects if it exits or times out first. */
  waitForOutput(re: RegExp, timeoutMs: number): Promise<{ at: number; match: RegExpMatchArray }> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const match = this.output.match(re);
        if (match) {
          cleanup();
          resolve({ at: Date.now(), match });
        } else if (this.gone) {
          cleanup();
          reject(new Error(`${this.name} exited before /${re.source}/; log: ${this.logFile}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.name}: no /${re.source}/ within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.events.off('change', check);
      };
      this.events.on('change', check);
      check();
    });
  }

  /** SIGTERM, then SIGKILL after the grace period (longer with BENCH_CPU_PROF: the profile is written at exit). */
  async stop(graceMs = process.env.BENCH_CPU_PROF ? 20_000 : 5000): Promise<void> {
    if (this.gone) return;
    this.child.kill('SIGTERM');
    const exited = await Promise.race([this.exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!exited && !this.gone) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  kill(): void {
    try {
      this.child.kill('SIGKILL');
    } catch {
      // gone
    }
  }
}

/** Starts measured processes and kills what is left of them when the bench process ends. */
export class ProcessControl {
  private readonly live = new Set<BenchProcess>();

  constructor(private readonly work: Workspace) {}

  /** `node <args…>` from the repository root, with exactly `env`. */
  start(name: string, args: string[], env: Record<string, string | undefined>): BenchProcess {
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const p = new BenchProcess(name, child, this.work.file(`${name}.log`));
    this.live.add(p);
    void p.exited.then(() => this.live.delete(p));
    return p;
  }

  killAll(): void {
    for (const p of this.live) p.kill();
  }

  /** Kills every live child when the bench exits, and on SIGINT / SIGTERM / SIGHUP (exit code 130). */
  killOnExit(): void {
    process.on('exit', () => this.killAll());
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(sig, () => {
        this.killAll();
        process.exit(130);
      });
    }
  }
}

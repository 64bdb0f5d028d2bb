import { Logger } from '@nestjs/common';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import type { AppConfig } from '@app/config';
import { compileCommandGlob } from './command-glob';

export const TASK_ISOLATION = Symbol('TASK_ISOLATION');

const SETPRIV = '/usr/bin/setpriv';
const UNSHARE = '/usr/bin/unshare';
export const PERL = '/usr/bin/perl';

/** `[executor] run_as`, resolved once at start. */
export interface TaskUser {
  name: string;
  uid: number;
  gid: number;
  /** Supplementary groups, as initgroups(3) would set them. */
  groups: number[];
  home: string;
}

/**
 * - `pid-namespace`: each run is PID 1's child in its own PID namespace with its own /proc: every descendant
 *   (setsid included) dies with the run, and the executor's processes are not visible at all.
 * - `process-group`: the run is a process group; a descendant that calls setsid leaves it and outlives the run.
 */
export type ContainmentMode = 'pid-namespace' | 'process-group';

export interface TaskIsolation {
  mode: ContainmentMode;
  user: TaskUser | null;
  /** Empty: a fresh directory per run. */
  workdir: string;
  allowedCommands: RegExp[];
}

/** What unit tests and a bare ShellRunner use: today's behaviour, without a user switch. */
export const NO_ISOLATION: TaskIsolation = { mode: 'process-group', user: null, workdir: '', allowedCommands: [] };

export class TaskIsolationError extends Error {}

export interface IsolationProbe {
  isRoot(): boolean;
  lookupUser(name: string): TaskUser | null;
  /** Whether the namespace chain (setpriv, unshare with a PID namespace and a fresh /proc) runs here. */
  canUsePidNamespace(): boolean;
}

export const systemProbe: IsolationProbe = {
  isRoot: () => process.getuid?.() === 0,
  lookupUser,
  canUsePidNamespace: () =>
    spawnSync(
      SETPRIV,
      ['--pdeathsig', 'KILL', UNSHARE, '--pid', '--fork', '--kill-child', '--mount-proc', '/bin/true'],
      {
        stdio: 'ignore',
        timeout: 5000,
      },
    ).status === 0,
};

/**
 * Resolves `[executor] run_as`, `workdir` and `allowed_commands` and probes what this machine can contain. Throws
 * naming the key when run_as cannot be honoured; returns the warnings an operator must see.
 */
export function resolveTaskIsolation(
  config: AppConfig['executor'],
  probe: IsolationProbe = systemProbe,
): { isolation: TaskIsolation; warnings: string[] } {
  const warnings: string[] = [];
  if (!existsSync(PERL)) throw new TaskIsolationError(`shell tasks need ${PERL} (perl-base), which is missing`);
  let user: TaskUser | null = null;
  if (config.runAs) {
    if (!probe.isRoot()) throw new TaskIsolationError('[executor] run_as: needs the executor to run as root');
    user = probe.lookupUser(config.runAs);
    if (!user) throw new TaskIsolationError(`[executor] run_as: no such user '${config.runAs}'`);
  } else if (probe.isRoot()) {
    warnings.push(
      'the executor runs as root and [executor] run_as is empty: shell tasks run as root and can read everything ' +
        'the executor can (its database, its config, its environment)',
    );
  }
  if (config.workdir && !statSync(config.workdir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new TaskIsolationError(`[executor] workdir: '${config.workdir}' is not a directory`);
  }
  const mode: ContainmentMode = probe.isRoot() && probe.canUsePidNamespace() ? 'pid-namespace' : 'process-group';
  if (mode === 'process-group') {
    warnings.push(
      'no PID namespace here (needs root with CAP_SYS_ADMIN and util-linux setpriv/unshare): shell tasks run in a ' +
        'process group, so a process that calls setsid outlives its run' +
        (user ? '' : ', and a task can read /proc/<executor pid>/environ'),
    );
  }
  return {
    isolation: { mode, user, workdir: config.workdir, allowedCommands: config.allowedCommands.map(compileCommandGlob) },
    warnings,
  };
}

/** getent covers NSS (LDAP, sssd); /etc/passwd is the fallback where getent is missing. */
export function lookupUser(name: string): TaskUser | null {
  const getent = spawnSync('getent', ['passwd', name], { encoding: 'utf8', timeout: 5000 });
  let line: string | undefined;
  if (getent.error) {
    line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.split(':')[0] === name);
  } else if (getent.status === 0) {
    line = getent.stdout.trim().split('\n')[0];
  }
  if (!line) return null;
  const [, , uid, gid, , home] = line.split(':');
  const groups = spawnSync('id', ['-G', name], { encoding: 'utf8', timeout: 5000 });
  const list = groups.status === 0 ? groups.stdout.trim().split(/\s+/).map(Number) : [Number(gid)];
  return { name, uid: Number(uid), gid: Number(gid), groups: list.filter(Number.isInteger), home: home || '/' };
}

/**
 * The SQLite file is on the same filesystem as the task: with run_as set, files the executor creates are owner-only
 * (umask), and an existing database it owns loses group and other access.
 */
function protectOwnFiles(config: AppConfig): void {
  process.umask(0o077);
  if (config.database.type !== 'sqlite') return;
  for (const file of [config.database.path, `${config.database.path}-wal`, `${config.database.path}-shm`]) {
    const st = statSync(file, { throwIfNoEntry: false });
    if (st && st.uid === process.getuid?.() && (st.mode & 0o077) !== 0) chmodSync(file, st.mode & 0o700);
  }
}

/** For the executor's module: refuses to start (exit 2, like a config error) when run_as cannot be honoured. */
export function prepareTaskIsolationOrExit(config: AppConfig): TaskIsolation {
  try {
    const { isolation, warnings } = resolveTaskIsolation(config.executor);
    const logger = new Logger('TaskIsolation');
    for (const warning of warnings) logger.warn(warning);
    if (isolation.user) protectOwnFiles(config);
    logger.log(
      `shell tasks: ${isolation.mode}, as ${isolation.user?.name ?? 'the executor user'}, in ${
        isolation.workdir || 'a new directory per run'
      }${isolation.allowedCommands.length ? `, ${isolation.allowedCommands.length} allowed_commands patterns` : ''}`,
    );
    return isolation;
  } catch (e) {
    process.stderr.write(`gocron executor: ${(e as Error).message}\n`);
    process.exit(2);
  }
}

// One run's scratch directory: process logs, SQLite files, probe files and the snapshot of dist/ that is measured.
// Removed at the end unless something failed (or BENCH_KEEP is set), so the logs of a failure stay for a look.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../test/support/processes';

export interface BuildInfo {
  commit: string | null;
  distBuiltAt: string;
}

export type GocronApp = 'dispatcher' | 'executor';

export class Workspace {
  readonly dir = mkdtempSync(join(tmpdir(), 'gocron-bench-'));
  /** The tree is edited and rebuilt while we run: the apps run from this copy of dist/ (node_modules, proto/ linked). */
  private readonly snap = join(this.dir, 'snap');
  private keepLogs = false;

  /** A path inside the workspace. */
  file(name: string): string {
    return join(this.dir, name);
  }

  /** The main.js of an app in the snapshot. */
  appMain(app: GocronApp): string {
    return join(this.snap, 'dist', 'apps', app, 'main.js');
  }

  /** Something went wrong (a scenario failed, a measured process died): keep the logs at the end. */
  keep(): void {
    this.keepLogs = true;
  }

  /** Copies dist/apps (and links what the apps read at run time); returns what was copied. */
  snapshotDist(): BuildInfo {
    mkdirSync(join(this.snap, 'dist', 'apps'), { recursive: true });
    for (const app of ['dispatcher', 'executor']) {
      cpSync(join(REPO_ROOT, 'dist', 'apps', app), join(this.snap, 'dist', 'apps', app), { recursive: true });
    }
    for (const link of ['node_modules', 'proto', 'conf']) symlinkSync(join(REPO_ROOT, link), join(this.snap, link));
    if (existsSync(join(REPO_ROOT, 'dist', 'dashboard'))) {
      symlinkSync(join(REPO_ROOT, 'dist', 'dashboard'), join(this.snap, 'dist', 'dashboard'));
    }
    const st = statSync(join(REPO_ROOT, 'dist/apps/dispatcher/main.js'));
    let commit: string | null = null;
    try {
      commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT }).toString().trim();
      const dirty = execFileSync('git', ['status', '--porcelain', 'apps', 'libs'], { cwd: REPO_ROOT })
        .toString()
        .trim();
      if (dirty) commit += ' + uncommitted changes in apps/ libs/';
    } catch {
      // not a git checkout
    }
    return { commit, distBuiltAt: st.mtime.toISOString() };
  }

  /** Removes the directory, or says where it is when the run failed, something died or BENCH_KEEP is set. */
  finish(failed: boolean): void {
    if (failed || this.keepLogs || process.env.BENCH_KEEP) process.stderr.write(`logs kept in ${this.dir}\n`);
    else rmSync(this.dir, { recursive: true, force: true });
  }
}

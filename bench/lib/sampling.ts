// CPU and memory of processes from /proc over a measuring window, with the machine's busy share and load.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import type { System } from './options';
import type { BenchProcess } from './processes';
import { round1, round3 } from './stats';
import type { Workspace } from './workspace';

const CLK_TCK = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Fields of /proc/<pid>/stat after the command name (field 3 on). */
function statFields(pid: number): string[] | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** utime + stime. */
function cpuTicks(pid: number): number | null {
  const f = statFields(pid);
  return f ? Number(f[11]) + Number(f[12]) : null;
}

/** CPU of the process's children that it has waited for (cutime + cstime): spawned tasks, once reaped. */
function childTicks(pid: number): number | null {
  const f = statFields(pid);
  return f ? Number(f[13]) + Number(f[14]) : null;
}

/** Pids whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    if (statFields(Number(entry))?.[1] === String(pid)) out.push(Number(entry));
  }
  return out;
}

export interface MemKb {
  rss: number;
  hwm: number;
}

export function memKb(pid: number): MemKb {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const get = (k: string): number => Number((s.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm')) || [])[1] || 0);
    return { rss: get('VmRSS'), hwm: get('VmHWM') };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

function machineTicks(): { idle: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + (f[4] || 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { idle, total };
}

export type ServicePids = Record<string, number | null>;

function servicePids(): ServicePids {
  const pg = (n: string): number | null => {
    try {
      return Number(execFileSync('pgrep', ['-x', n]).toString().trim().split('\n')[0]) || null;
    } catch {
      return null;
    }
  };
  return { 'redis-server': pg('redis-server'), mariadbd: pg('mariadbd') || pg('mysqld'), etcd: pg('etcd') };
}

/** The shared services a system uses, whose CPU is sampled alongside its own processes. */
export function servicesFor(system: System): ServicePids {
  const all = servicePids();
  if (system === 'embedded' || system === 'floor') return {};
  if (system === 'bullmq') return { 'redis-server': all['redis-server'] };
  return all;
}

export interface ProcResources {
  name: string;
  shared: boolean;
  died: string | null;
  cpuPct: number | null;
  cpuSec: number | null;
  childCpuSec: number | null;
  rssPeakMB: number | null;
  hwmMB: number | null;
  /**
   * Its long-lived children, alive at both ends of the window (the executor's spawn helper): their own CPU and
   * their reaped children's (the helper's tasks). Null when it had none.
   */
  helperCpuSec?: number | null;
  helperChildCpuSec?: number | null;
}

export interface Resources {
  seconds: number | null;
  procs: ProcResources[];
  machineBusyPct: number | null;
  load: [number[], number[]];
}

export interface Sampler {
  stop(): Resources;
}

/**
 * Samples CPU (utime+stime delta) and RSS (peak, every 500 ms) of the given processes over [now, stop()]. A process
 * that dies in the window is reported as such and keeps the workspace's logs.
 */
export function sampler(work: Workspace, procs: BenchProcess[], services: ServicePids = {}): Sampler {
  const targets = [
    ...procs.map((p) => ({ name: p.name, pid: p.pid, proc: p, shared: false })),
    ...Object.entries(services)
      .filter((e): e is [string, number] => !!e[1])
      .map(([name, pid]) => ({ name: `${name} (shared)`, pid, proc: null, shared: true })),
  ];
  const helpers = targets.map((t) => (t.shared ? [] : childrenOf(t.pid)));
  const h0 = helpers.map((pids) => pids.map((pid) => [cpuTicks(pid), childTicks(pid)]));
  const t0 = Date.now();
  const m0 = machineTicks();
  const c0 = targets.map((t) => cpuTicks(t.pid));
  const k0 = targets.map((t) => childTicks(t.pid));
  const peak = targets.map(() => 0);
  const load0 = loadavg();
  const tick = (): void =>
    targets.forEach((t, i) => {
      peak[i] = Math.max(peak[i], memKb(t.pid).rss);
    });
  tick();
  const iv = setInterval(tick, 500);
  return {
    stop(): Resources {
      clearInterval(iv);
      tick();
      const secs = (Date.now() - t0) / 1000;
      const m1 = machineTicks();
      const res = targets.map((t, i): ProcResources => {
        const c1 = cpuTicks(t.pid);
        const k1 = childTicks(t.pid);
        const before = c0[i];
        const kBefore = k0[i];
        const mem = memKb(t.pid);
        const died = t.proc && t.proc.dead ? `exited during the window (${t.proc.exitDescription()})` : null;
        if (died) work.keep();
        let helperTicks: number | null = null;
        let helperChildTicks: number | null = null;
        helpers[i].forEach((pid, j) => {
          const [a, b] = [cpuTicks(pid), childTicks(pid)];
          const [a0, b0] = h0[i][j];
          if (a == null || b == null || a0 == null || b0 == null) return;
          helperTicks = (helperTicks ?? 0) + a - a0;
          helperChildTicks = (helperChildTicks ?? 0) + b - b0;
        });
        return {
          name: t.name,
          shared: t.shared,
          died,
          cpuPct: before == null || c1 == null ? null : round1(((c1 - before) / CLK_TCK / secs) * 100),
          cpuSec: before == null || c1 == null ? null : round3((c1 - before) / CLK_TCK),
          childCpuSec: t.shared || kBefore == null || k1 == null ? null : round3((k1 - kBefore) / CLK_TCK),
          rssPeakMB: round1(peak[i] / 1024),
          hwmMB: t.shared ? null : round1(mem.hwm / 1024),
          ...(helperTicks != null && {
            helperCpuSec: round3(helperTicks / CLK_TCK),
            helperChildCpuSec: round3((helperChildTicks ?? 0) / CLK_TCK),
          }),
        };
      });
      const busy = 1 - (m1.idle - m0.idle) / (m1.total - m0.total);
      return { seconds: round1(secs), procs: res, machineBusyPct: round1(busy * 100), load: [load0, loadavg()] };
    },
  };
}

// Load on the shared Redis and MariaDB (W5): server-wide counters read before and after a window, and their deltas.
import Redis from 'ioredis';
import { createConnection, RowDataPacket } from 'mysql2/promise';
import { testServices } from '../../test/support/services';
import { round1, round3 } from './stats';

const DB_COUNTERS = [
  'Questions',
  'Com_select',
  'Com_insert',
  'Com_update',
  'Com_delete',
  'Com_commit',
  'Innodb_rows_inserted', // MySQL; MariaDB 10.11 no longer has the Innodb_rows_* counters:
  'Innodb_rows_updated',
  'Innodb_rows_deleted',
  'Innodb_rows_read',
  'Handler_write', // rows written, updated, deleted (MariaDB and MySQL)
  'Handler_update',
  'Handler_delete',
  'Rows_read', // MariaDB
];

export interface CounterReading {
  t: number;
  redis: { total: number; cmds: Record<string, { calls: number; usec: number }> };
  db: Record<string, number>;
}

export interface ServiceCounters {
  read(): Promise<CounterReading>;
  close(): Promise<void>;
}

/** Redis INFO commandstats / stats and MariaDB SHOW GLOBAL STATUS, over connections kept open for the scenario. */
async function serviceCounters(): Promise<ServiceCounters> {
  const svc = testServices();
  const redis = new Redis(svc.redisUrl);
  const db = await createConnection({ ...svc.mysql });
  return {
    async read() {
      const [cs, st, [rows]] = await Promise.all([
        redis.info('commandstats'),
        redis.info('stats'),
        db.query<RowDataPacket[]>(`SHOW GLOBAL STATUS WHERE Variable_name IN (?)`, [DB_COUNTERS]),
      ]);
      const cmds: CounterReading['redis']['cmds'] = {};
      for (const m of cs.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
        cmds[m[1]] = { calls: Number(m[2]), usec: Number(m[3]) };
      }
      const dbc: Record<string, number> = {};
      for (const r of rows as { Variable_name: string; Value: string }[]) dbc[r.Variable_name] = Number(r.Value);
      const total = Number((/total_commands_processed:(\d+)/.exec(st) ?? [])[1]);
      return { t: Date.now(), redis: { total, cmds }, db: dbc };
    },
    async close() {
      redis.disconnect();
      await db.end().catch(() => {});
    },
  };
}

/** Runs `fn` with the counters' connections open, closed afterwards. */
export async function withServiceCounters<T>(fn: (counters: ServiceCounters) => Promise<T>): Promise<T> {
  const counters = await serviceCounters();
  try {
    return await fn(counters);
  } finally {
    await counters.close();
  }
}

export interface PerRun {
  total: number;
  perSec: number | null;
  perRun: number | null;
}

export interface CounterDelta {
  seconds: number | null;
  runs: number | null;
  redis: {
    commandsProcessed: PerRun;
    commandstatsCalls: PerRun;
    commandUsec: number;
    top: { cmd: string; calls: number; perSec: number | null }[];
  };
  db: Record<string, PerRun>;
}

/** Deltas between two readings: totals, per second and (with runs) per run. */
export function counterDelta(a: CounterReading, b: CounterReading, runs: number | null = null): CounterDelta {
  const secs = (b.t - a.t) / 1000;
  const per = (x: number): PerRun => ({ total: x, perSec: round1(x / secs), perRun: runs ? round3(x / runs) : null });
  const calls: Record<string, number> = {};
  let callsTotal = 0;
  let usec = 0;
  for (const [k, v] of Object.entries(b.redis.cmds)) {
    const prev = a.redis.cmds[k] || { calls: 0, usec: 0 };
    const d = v.calls - prev.calls;
    if (d > 0) calls[k] = d;
    callsTotal += Math.max(0, d);
    usec += Math.max(0, v.usec - prev.usec);
  }
  const db: Record<string, PerRun> = {};
  for (const k of DB_COUNTERS) if (k in b.db) db[k] = per(b.db[k] - (a.db[k] || 0));
  return {
    seconds: round1(secs),
    runs,
    redis: {
      commandsProcessed: per(b.redis.total - a.redis.total),
      commandstatsCalls: per(callsTotal),
      commandUsec: usec,
      top: Object.entries(calls)
        .sort((x, y) => y[1] - x[1])
        .slice(0, 8)
        .map(([cmd, n]) => ({ cmd, calls: n, perSec: round1(n / secs) })),
    },
    db,
  };
}

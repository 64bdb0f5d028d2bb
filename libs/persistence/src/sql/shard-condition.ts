import { SHARD_COUNT, shardOf } from '@app/common';

/** The SQLite function that names a job's shard as shardOf does (MySQL has CRC32() built in). */
export const SQLITE_SHARD_FUNCTION = 'gocron_shard';

/** Registers SQLITE_SHARD_FUNCTION on a better-sqlite3 connection. */
export function registerShardFunction(db: {
  function(name: string, options: { deterministic: boolean }, fn: (id: number | bigint) => number): unknown;
}): void {
  db.function(SQLITE_SHARD_FUNCTION, { deterministic: true }, (id) => shardOf(Number(id)));
}

/**
 * A condition true for rows whose job id (`column`, an SQL expression) is in one of `shards`: the dispatcher's own
 * jobs when it plans a part of them. Shard numbers are checked integers, written inline.
 */
export function shardCondition(type: string, column: string, shards: readonly number[]): string {
  if (shards.length === 0) return '1 = 0';
  for (const n of shards) {
    if (!Number.isInteger(n) || n < 0 || n >= SHARD_COUNT) throw new Error(`not a shard number: ${n}`);
  }
  const expr = type === 'mysql' ? `MOD(CRC32(${column}), ${SHARD_COUNT})` : `${SQLITE_SHARD_FUNCTION}(${column})`;
  return `${expr} IN (${shards.join(', ')})`;
}

import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';

/** Jobs are spread over this many shards (contract: n = crc32(jobId) mod 256). */
export const SHARD_COUNT = 256;

/**
 * A job's shard: the CRC-32 (IEEE, as zlib and MySQL's `CRC32()` compute it) of its id written in decimal, mod 256.
 * So `MOD(CRC32(id), 256)` in SQL names the same shard.
 */
export function shardOf(jobId: number): number {
  return crc32(String(jobId)) % SHARD_COUNT;
}

/** Every shard number, in order. */
export const ALL_SHARDS: readonly number[] = Array.from({ length: SHARD_COUNT }, (_, n) => n);

/**
 * Which dispatcher each shard should belong to, given the live dispatchers (answer[n] is shard n's). Every
 * dispatcher computes the same answer from the same set of ids, in any order.
 *
 * Balanced: each dispatcher gets ⌊256/k⌋ or ⌈256/k⌉ shards. Stable: each (shard, dispatcher) pair has a fixed
 * score (a hash of both), and pairs are granted from the highest score down while the dispatcher has room
 * (rendezvous hashing with bounded load), so a join or a leave moves about 1/k of the shards rather than
 * reshuffling them.
 */
export function assignShards(dispatcherIds: readonly string[]): string[] {
  const ids = [...new Set(dispatcherIds)].sort();
  if (ids.length === 0) return [];
  const base = Math.floor(SHARD_COUNT / ids.length);
  const extra = SHARD_COUNT % ids.length;
  // The first `extra` ids (sorted) take one more: the same ones everywhere.
  const room = new Map(ids.map((id, i) => [id, base + (i < extra ? 1 : 0)]));
  const pairs: { shard: number; id: string; score: number }[] = [];
  for (const id of ids) {
    for (let shard = 0; shard < SHARD_COUNT; shard++) pairs.push({ shard, id, score: pairScore(shard, id) });
  }
  pairs.sort((a, b) => b.score - a.score || a.shard - b.shard || (a.id < b.id ? -1 : 1));
  const owners: string[] = new Array<string>(SHARD_COUNT);
  let left = SHARD_COUNT;
  for (const p of pairs) {
    if (left === 0) break;
    if (owners[p.shard] !== undefined || room.get(p.id)! === 0) continue;
    owners[p.shard] = p.id;
    room.set(p.id, room.get(p.id)! - 1);
    left--;
  }
  return owners;
}

function pairScore(shard: number, id: string): number {
  return createHash('sha256').update(`${shard}\0${id}`).digest().readUIntBE(0, 6);
}

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { placeholders } from '../sql/columns';

/** What a dependency run is told of one of its parent runs. */
export interface ParentRunRow {
  id: number;
  jobId: number;
  exitCode: number | null;
  httpStatus: number | null;
  /**
   * At most the last `tailBytes` bytes of the stored output, as UTF-8 (empty when it has none): raw bytes, which may
   * start inside a character; the caller cuts them where one starts.
   */
  outputTail: Buffer;
}

/** Ids a statement at most: far below SQLite's bound variables and MySQL's packet limit. */
const CHUNK = 500;

/**
 * The parent runs' rows a child run's executor reads to build the child's context: only the columns it needs, and
 * only the tail of the output (a run stores up to 64 KiB; a fan-in of 100 parents would otherwise read 6 MiB to
 * keep 400 KiB). Cut as bytes (the text cast to binary) rather than characters: SQLite's text functions count
 * characters up to the first NUL only, so `substr(output, -n)` of an output holding one is not its tail.
 */
@Injectable()
export class ParentRunsRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  /** Those of these runs that exist (a pruned one is absent), ids ascending. */
  async tailsOf(ids: number[], tailBytes: number): Promise<ParentRunRow[]> {
    if (!Number.isSafeInteger(tailBytes) || tailBytes < 1) throw new Error(`tailBytes must be ≥ 1, got ${tailBytes}`);
    // MySQL's SUBSTRING with a negative start beyond the length answers '', RIGHT the whole value; SQLite has no
    // RIGHT, and its substr(x, -n) answers the whole value when it is shorter than n.
    const mysql = this.ds.options.type === 'mysql';
    const tail = mysql ? 'RIGHT(CAST(output AS BINARY), ?)' : 'substr(CAST(output AS BLOB), ?)';
    const bound = mysql ? tailBytes : -tailBytes;
    const unique = [...new Set(ids)].sort((a, b) => a - b);
    const out: ParentRunRow[] = [];
    for (let i = 0; i < unique.length; i += CHUNK) {
      const part = unique.slice(i, i + CHUNK);
      const rows = await this.ds.query<RawParentRow[]>(
        `SELECT id, job_id, exit_code, http_status, ${tail} AS output_tail FROM runs ` +
          `WHERE id IN (${placeholders(part.length)}) ORDER BY id`,
        [bound, ...part],
      );
      for (const r of rows) {
        out.push({
          id: Number(r.id),
          jobId: Number(r.job_id),
          exitCode: r.exit_code === null ? null : Number(r.exit_code),
          httpStatus: r.http_status === null ? null : Number(r.http_status),
          outputTail: bytesOf(r.output_tail),
        });
      }
    }
    return out;
  }
}

interface RawParentRow {
  id: number | string;
  job_id: number | string;
  exit_code: number | string | null;
  http_status: number | string | null;
  output_tail: string | Buffer | Uint8Array | null;
}

/** Both drivers answer a binary value as a Buffer; null is a run that stored no output. */
function bytesOf(v: string | Buffer | Uint8Array | null): Buffer {
  if (v === null) return Buffer.alloc(0);
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  return Buffer.isBuffer(v) ? v : Buffer.from(v);
}

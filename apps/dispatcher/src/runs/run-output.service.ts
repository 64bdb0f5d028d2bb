import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { setTimeout as sleep } from 'node:timers/promises';
import { LogThrottle } from '@app/common';
import { isFinal } from '@app/contract';
import type { RunStatus } from '@app/contract';
import { RunEntity, RunsRepository } from '@app/persistence';
import { DomainError } from '../common/domain-error';
import { grpcCode } from '../executor-client/executor-grpc.client';
import { ExecutorPool } from '../executor-client/executor-pool.service';

/** What a follower of a run's output receives: output from an offset, then the end with the final status. */
export type OutputEvent =
  | {
      type: 'output';
      offset: number;
      data: string;
      /**
       * Bytes skipped before `offset` (not held any more, or not stored): a number, or 'unknown' when the stored
       * output can not tell where its tail is in the stream. Absent when nothing was skipped.
       */
      gap?: number | 'unknown';
    }
  | { type: 'end'; status: RunStatus }
  | { type: 'unavailable'; message: string };

export interface OutputFollowOptions {
  /**
   * The first pause before the ledger is read again while the run is pending, or while its executor can not stream
   * it; each pause with nothing new doubles it, up to maxPollMs.
   */
  pollMs: number;
  maxPollMs?: number;
  /**
   * How long a follow waits for a pending run to start, or for an executor that can not be reached (the ledger still
   * saying running); then the stream closes without `end` and the client reconnects.
   */
  pendingWaitMs: number;
}

const DEFAULT_OPTIONS: OutputFollowOptions = { pollMs: 500, maxPollMs: 5000, pendingWaitMs: 5 * 60_000 };

/** The recorded output from `offset` on, starting on a character boundary (offsets are UTF-8 bytes). */
export function storedFrom(output: string | null, offset: number): { offset: number; data: string } | null {
  const bytes = Buffer.from(output ?? '', 'utf8');
  let at = offset;
  while (at < bytes.length && (bytes[at] & 0xc0) === 0x80) at++;
  if (at >= bytes.length) return null;
  return { offset: at, data: bytes.subarray(at).toString('utf8') };
}

/**
 * The marker OutputBuffer (apps/executor) puts between the head and the tail of an output past its limit, with the
 * count of bytes it left out of the middle.
 */
const OMITTED = /\n… \[(\d+) bytes omitted\] …\n/;

type OutputPiece = Extract<OutputEvent, { type: 'output' }>;

/**
 * The recorded output of a final run from a live `offset` on, as `output` events. Live offsets count the whole
 * stream; past its limit the recorded output is head + marker + tail, so: within the head, the rest of the head;
 * then the tail at its place in the stream (head + the marker's count), with the bytes skipped to reach it as `gap`.
 * The marker counts the bytes as the task wrote them: for a job with secrets, masking in the omitted middle may have
 * moved the tail in the live stream, which the ledger does not record; the tail's offset is then close, not exact.
 * A truncated output without a readable marker is sent whole with `gap: 'unknown'`.
 */
export function storedEvents(output: string | null, truncated: boolean, offset: number): OutputPiece[] {
  if (!truncated || output === null) {
    const rest = storedFrom(output, offset);
    return rest ? [{ type: 'output', ...rest }] : [];
  }
  const m = OMITTED.exec(output);
  if (!m) return output === '' ? [] : [{ type: 'output', offset, data: output, gap: 'unknown' }];
  const head = output.slice(0, m.index);
  const tail = output.slice(m.index + m[0].length);
  const headBytes = Buffer.byteLength(head, 'utf8');
  const tailStart = headBytes + Number(m[1]);
  const events: OutputPiece[] = [];
  let at = offset;
  if (at < headBytes) {
    const rest = storedFrom(head, at);
    if (rest) events.push({ type: 'output', ...rest });
    at = headBytes;
  }
  const fromTail = storedFrom(tail, Math.max(0, at - tailStart));
  if (fromTail) {
    const start = tailStart + fromTail.offset;
    const gap = start - at;
    events.push({ type: 'output', offset: start, data: fromTail.data, ...(gap > 0 ? { gap } : {}) });
  }
  return events;
}

/**
 * A run's output while it runs, for `GET /api/runs/:id/output?follow=true`: streamed from the executor that runs it
 * (FollowOutput, over the channel and token every call to it uses), called again from where it stopped whenever a call
 * ends before the run does (the 1 MiB per call, an executor restart), so that the client sees one stream. A pending
 * run is waited for (up to `pendingWaitMs`); a final one, or one the executor no longer holds, ends with the recorded
 * output past the offset reached, then `end` with the status the ledger holds.
 */
@Injectable()
export class RunOutput implements BeforeApplicationShutdown {
  private readonly logger = new Logger(RunOutput.name);
  // A follow retries every pollMs while an executor is away: one line per executor a minute is enough.
  private readonly failures = new LogThrottle((m) => this.logger.warn(m), 60_000);
  /** Ends every follow when the dispatcher stops, so that open streams do not hold its HTTP server up. */
  private readonly stopping = new AbortController();

  constructor(
    private readonly runs: RunsRepository,
    private readonly pool: ExecutorPool,
  ) {}

  /**
   * The ledger's row of a run, read at most once per `freshMs` however many follows wait on it: every stream of a
   * pending run (or of one whose executor is away) asks, and they share one read.
   */
  private readonly reads = new Map<number, { at: number; row: Promise<RunEntity | null> }>();

  private readRun(runId: number, freshMs: number): Promise<RunEntity | null> {
    const now = Date.now();
    const cached = this.reads.get(runId);
    if (cached && now - cached.at < freshMs) return cached.row;
    const row = this.runs.findById(runId);
    this.reads.set(runId, { at: now, row });
    // Forgotten once stale, so that the map holds only runs being waited on.
    setTimeout(() => {
      if (this.reads.get(runId)?.row === row) this.reads.delete(runId);
    }, freshMs).unref();
    return row;
  }

  /** The run, or a 404 naming it. */
  async find(id: number): Promise<RunEntity> {
    const run = await this.runs.findById(id);
    if (!run) throw DomainError.notFound(`run ${id}`);
    return run;
  }

  async *follow(
    first: RunEntity,
    offset: number,
    signal: AbortSignal,
    opts: OutputFollowOptions = DEFAULT_OPTIONS,
  ): AsyncGenerator<OutputEvent> {
    signal = AbortSignal.any([signal, this.stopping.signal]);
    const runId = first.id;
    const maxPollMs = Math.max(opts.pollMs, opts.maxPollMs ?? opts.pollMs);
    // Waiting (pending, or an executor away) is bounded from when it began; progress starts the bound again.
    let waitUntil = Date.now() + opts.pendingWaitMs;
    let delay = opts.pollMs;
    const idle = async () => {
      await pause(delay, signal);
      delay = Math.min(maxPollMs, delay * 2);
    };
    let at = offset;
    let run: RunEntity | null = first;
    while (!signal.aborted) {
      if (!run) return; // deleted meanwhile
      if (isFinal(run.status)) {
        yield* storedEvents(run.output, run.outputTruncated, at);
        yield { type: 'end', status: run.status };
        return;
      }
      if (run.status === 'running' && run.executorAddress) {
        let ended: string | null = null;
        let reconnect = false;
        try {
          for await (const chunk of this.pool.followOutput(run.executorAddress, { runId, offset: at }, signal)) {
            delay = opts.pollMs;
            waitUntil = Date.now() + opts.pendingWaitMs;
            if (chunk.data) {
              const gap = chunk.gap > 0 ? { gap: chunk.gap } : {};
              yield { type: 'output', offset: chunk.offset, data: chunk.data, ...gap };
            }
            at = chunk.offset + Buffer.byteLength(chunk.data, 'utf8');
            if (chunk.end) ended = chunk.status;
            reconnect = chunk.reconnect;
            if (chunk.end || chunk.reconnect) break;
          }
          // A call that ended without saying why is not called again at once.
          if (ended === null && !reconnect) await idle();
        } catch (e) {
          if (signal.aborted) return;
          const code = grpcCode(e);
          if (code === GrpcStatus.RESOURCE_EXHAUSTED || code === GrpcStatus.INVALID_ARGUMENT) {
            yield { type: 'unavailable', message: (e as { details?: string }).details ?? (e as Error).message };
            return;
          }
          // NOT_FOUND: the run ended (or is about to start) there; UNAVAILABLE: the executor is away. The ledger says
          // which, after a pause.
          if (code !== GrpcStatus.NOT_FOUND) {
            this.failures.warn(`follow:${run.executorAddress}`, {
              msg: `following output on ${run.executorAddress} failed: ${(e as Error).message}`,
              runId,
              executorId: run.executorId,
            });
          }
          // An executor that can not stream the run for that long (and a ledger that still says running): the
          // stream closes and the client reconnects, rather than retrying here without end.
          if (Date.now() >= waitUntil) return;
          await idle();
        }
        if (ended !== null) {
          // The executor sends `end` once the result is recorded; the ledger's status is the one that stands.
          const row = await this.runs.findById(runId);
          yield { type: 'end', status: row && isFinal(row.status) ? row.status : (ended as RunStatus) };
          return;
        }
      } else {
        // Pending (or running with no executor recorded yet): wait, bounded; the client reconnects after that.
        if (Date.now() >= waitUntil) return;
        await idle();
      }
      if (signal.aborted) return;
      run = await this.readRun(runId, opts.pollMs);
    }
  }

  /** Aborts when the dispatcher stops (the streams writing follows end then, even with a client not reading). */
  get shutdownSignal(): AbortSignal {
    return this.stopping.signal;
  }

  beforeApplicationShutdown(): void {
    this.stopping.abort();
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, undefined, { signal }).catch(() => undefined);
}

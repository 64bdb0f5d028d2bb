import type { OutputChunk } from '@app/protocol';
import type { LiveOutput } from './runners/live-output';

/** What one FollowOutput call sends at most; then it ends with `reconnect`, and the caller calls again. */
export const MAX_BYTES_PER_CALL = 1024 * 1024;
/** How long the place of a follower told to `reconnect` is kept for its next call (it calls again at once). */
export const RECONNECT_KEEP_MS = 2000;
/** The largest chunk written at once, so that back-pressure is felt every few KiB. */
export const CHUNK_BYTES = 16 * 1024;

/** The part of a grpc-js ServerWritableStream a follower writes to. */
export interface ChunkSink {
  readonly cancelled: boolean;
  write(chunk: OutputChunk): boolean;
  on(event: 'drain' | 'cancelled', listener: () => void): unknown;
  off(event: 'drain' | 'cancelled', listener: () => void): unknown;
}

export interface FollowLimits {
  maxBytesPerCall: number;
  chunkBytes: number;
}

const DEFAULT_LIMITS: FollowLimits = { maxBytesPerCall: MAX_BYTES_PER_CALL, chunkBytes: CHUNK_BYTES };

function chunk(fields: Partial<OutputChunk> & { offset: number }): OutputChunk {
  return { data: '', gap: 0, end: false, status: '', reconnect: false, ...fields };
}

/**
 * Writes `live` from `offset` on to `sink`, as it arrives, until the run ends (a last chunk with `end` and the
 * status), the call is cancelled, or `maxBytesPerCall` are sent while the run is still going (a last chunk with
 * `reconnect`; once it ended, the rest, bounded by the ring, is sent in the same call). Answers the offset a
 * `reconnect` told the caller to call again from, else null. Nothing is buffered
 * for the follower: each chunk is read from the run's ring when the previous one is written, and when `write()`
 * answers false the next waits for 'drain'. A follower too slow for the ring gets a chunk with the `gap` it missed.
 */
export async function followOutput(
  live: LiveOutput,
  offset: number,
  sink: ChunkSink,
  limits: FollowLimits = DEFAULT_LIMITS,
): Promise<number | null> {
  let at = offset;
  let sent = 0;
  while (!sink.cancelled) {
    const room = limits.maxBytesPerCall - sent;
    // read() returns at least 4 bytes (one character) when asked for less: below that the call is done. A run that
    // ended is sent to its end instead (at most the ring past the cap): a call again would find it gone soon.
    if (room < 4 && live.status === null) {
      await write(sink, chunk({ offset: at, reconnect: true }));
      return at;
    }
    const slice = live.read(at, Math.max(4, Math.min(limits.chunkBytes, room)));
    if (slice.bytes > 0 || slice.gap > 0) {
      at = slice.offset + slice.bytes;
      sent += slice.bytes;
      await write(sink, chunk({ offset: slice.offset, data: slice.data, gap: slice.gap }));
      continue;
    }
    if (live.status !== null) {
      await write(sink, chunk({ offset: at, end: true, status: live.status }));
      return null;
    }
    await nextChange(live, sink);
  }
  return null;
}

async function write(sink: ChunkSink, c: OutputChunk): Promise<void> {
  if (sink.write(c)) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      sink.off('drain', done);
      sink.off('cancelled', done);
      resolve();
    };
    sink.on('drain', done);
    sink.on('cancelled', done);
  });
}

/** Resolves when the run has more output or ended, or the call is cancelled. */
function nextChange(live: LiveOutput, sink: ChunkSink): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      stop();
      sink.off('cancelled', done);
      resolve();
    };
    const stop = live.onChange(done);
    sink.on('cancelled', done);
  });
}

// Original file: proto/executor.proto

import type { Long } from '@grpc/proto-loader';

/**
 * A piece of a run's output. Every chunk of a call follows the previous one without overlap: `offset` is where its
 * `data` starts, and the next chunk starts at offset + the UTF-8 size of data.
 */
export interface OutputChunk {
  /**
   * Byte offset in the masked output stream of the first byte of `data` (after `gap`, when there is one).
   */
  offset?: number | string | Long;
  /**
   * Whole UTF-8 characters: a chunk never ends or starts inside one.
   */
  data?: string;
  /**
   * Bytes between the requested (or previous) offset and `offset` that are no longer held (the executor keeps the
   * most recent 256 KiB of a run's output); 0 when nothing was skipped.
   */
  gap?: number | string | Long;
  /**
   * The run has ended: no chunk follows; `status` is its final status (succeeded, failed, timed_out, cancelled, lost).
   */
  end?: boolean;
  status?: string;
  /**
   * This call has sent what one call may (1 MiB): nothing follows on it; call again from `offset`.
   */
  reconnect?: boolean;
}

/**
 * A piece of a run's output. Every chunk of a call follows the previous one without overlap: `offset` is where its
 * `data` starts, and the next chunk starts at offset + the UTF-8 size of data.
 */
export interface OutputChunk__Output {
  /**
   * Byte offset in the masked output stream of the first byte of `data` (after `gap`, when there is one).
   */
  offset: number;
  /**
   * Whole UTF-8 characters: a chunk never ends or starts inside one.
   */
  data: string;
  /**
   * Bytes between the requested (or previous) offset and `offset` that are no longer held (the executor keeps the
   * most recent 256 KiB of a run's output); 0 when nothing was skipped.
   */
  gap: number;
  /**
   * The run has ended: no chunk follows; `status` is its final status (succeeded, failed, timed_out, cancelled, lost).
   */
  end: boolean;
  status: string;
  /**
   * This call has sent what one call may (1 MiB): nothing follows on it; call again from `offset`.
   */
  reconnect: boolean;
}

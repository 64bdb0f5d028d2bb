import type { Response } from 'express';
import { once } from 'node:events';
import type { OutputEvent } from './run-output.service';

/** A comment line every so often, so that proxies and load balancers keep an idle stream open. */
export const HEARTBEAT_MS = 15_000;
/** How soon a browser's EventSource reconnects after a stream closed without `end`. */
const RETRY_MS = 2000;
/** How soon it reconnects after a refusal (`unavailable`). */
export const REFUSED_RETRY_MS = 10_000;

/**
 * One event in text/event-stream framing. Data is JSON on one line (JSON escapes newlines). The id of an `output`
 * event is the offset just past its data: an EventSource sends the last id back as Last-Event-ID when it reconnects,
 * and that is where the stream must go on, with nothing sent twice.
 */
export function sseFrame(e: OutputEvent): string {
  switch (e.type) {
    case 'output': {
      const next = e.offset + Buffer.byteLength(e.data, 'utf8');
      const gap = e.gap === undefined ? {} : { gap: e.gap };
      return `id: ${next}\nevent: output\ndata: ${JSON.stringify({ offset: e.offset, data: e.data, ...gap })}\n\n`;
    }
    case 'end':
      return `event: end\ndata: ${JSON.stringify({ status: e.status })}\n\n`;
    case 'unavailable':
      // Not `error`: an EventSource fires that name for its own connection failures.
      // With a long retry: a plain EventSource reconnects after it, and the refusal (8 followers) lasts a while.
      return `retry: ${REFUSED_RETRY_MS}\nevent: unavailable\ndata: ${JSON.stringify({ message: e.message })}\n\n`;
  }
}

export interface EventStreamOptions {
  heartbeatMs?: number;
  /** Asked every `revalidateMs`: false ends the stream (the credential was revoked meanwhile). */
  stillValid?: () => Promise<boolean>;
  revalidateMs?: number;
  /** Hears an error of the source: the headers are sent by then, so the stream ends with `unavailable`. */
  onError?: (e: Error) => void;
  /**
   * Aborts when the server stops: the stream ends at once, and a client that stopped reading (the response waiting
   * for 'drain') has its response destroyed, so that it does not hold the HTTP server's close up.
   */
  shutdown?: AbortSignal;
}

/**
 * Writes the events of `source` to `res` as server-sent events, with heartbeats, until the source ends or the client
 * goes away (the source's signal aborts then). The next event is pulled only once the previous one is written (after
 * 'drain' when write() answered false), so a slow client slows the source instead of filling memory.
 */
export async function writeEventStream(
  res: Response,
  source: (signal: AbortSignal) => AsyncGenerator<OutputEvent>,
  opts: EventStreamOptions = {},
): Promise<void> {
  const abort = new AbortController();
  const stop = () => abort.abort();
  // The response's 'close', not the request's: a GET's request closes as soon as it is read (Node 16+).
  res.on('close', stop);
  let stopping = false;
  const shut = () => {
    stopping = true;
    stop();
  };
  if (opts.shutdown?.aborted) shut();
  opts.shutdown?.addEventListener('abort', shut);
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache, no-transform');
  res.setHeader('Connection', 'keep-alive');
  // nginx buffers responses unless told not to.
  res.setHeader('X-Accel-Buffering', 'no');
  res.flushHeaders();
  res.write(`retry: ${RETRY_MS}\n\n`);
  const heartbeat = setInterval(() => res.write(': ping\n\n'), opts.heartbeatMs ?? HEARTBEAT_MS);
  const revalidate =
    opts.stillValid &&
    setInterval(() => {
      // A database that does not answer ends no stream: the credential is judged when it answers again.
      void opts.stillValid!()
        .catch(() => true)
        .then((ok) => ok || stop());
    }, opts.revalidateMs ?? 60_000);
  try {
    for await (const event of source(abort.signal)) {
      if (abort.signal.aborted) break;
      if (!res.write(sseFrame(event))) {
        await once(res, 'drain', { signal: abort.signal }).catch(() => undefined);
        if (abort.signal.aborted) break;
      }
    }
  } catch (e) {
    opts.onError?.(e as Error);
    if (!abort.signal.aborted) res.write(sseFrame({ type: 'unavailable', message: 'internal error' }));
  } finally {
    clearInterval(heartbeat);
    if (revalidate) clearInterval(revalidate);
    res.off('close', stop);
    opts.shutdown?.removeEventListener('abort', shut);
    abort.abort();
    // On shutdown, a response whose client is not reading would wait for it: it is dropped instead.
    if (stopping && res.writableNeedDrain) res.destroy();
    else res.end();
  }
}

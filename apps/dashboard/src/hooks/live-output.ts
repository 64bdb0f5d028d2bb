// A running run's output as it is written: an EventSource on GET /api/runs/:id/output?follow=true (same origin, so
// the session cookie goes with it). Pieces are appended in order; the browser reconnects by itself after a dropped
// connection, sending the last event id (the offset past the last piece), so nothing arrives twice. `end` closes it.
import { useEffect, useState } from 'react';
import type { RunStatus } from '@app/contract';

/** The text kept in the page: past this, the oldest part is dropped (the recorded output is there once it ends). */
const MAX_CHARS = 1_000_000;

export interface LiveOutputState {
  /** What arrived so far (its tail past MAX_CHARS). */
  text: string;
  /** Following now: the stream is open. */
  live: boolean;
  /** The final status `end` carried, once it came. */
  ended: RunStatus | null;
  /** The stream was refused or failed for good (the caller shows the recorded output). */
  failed: string | null;
  /** Some output is not shown: it fell out of the executor's buffer, or out of MAX_CHARS. */
  trimmed: boolean;
}

const IDLE: LiveOutputState = { text: '', live: false, ended: null, failed: null, trimmed: false };

export function useLiveOutput(runId: number, follow: boolean): LiveOutputState {
  const [state, setState] = useState<LiveOutputState>(IDLE);

  useEffect(() => {
    setState(IDLE);
    if (!follow || typeof EventSource === 'undefined') return;
    const source = new EventSource(`/api/runs/${runId}/output?follow=true`);
    let next = 0;
    setState({ ...IDLE, live: true });
    const onOutput = (msg: MessageEvent<string>) => {
      const piece = JSON.parse(msg.data) as { offset: number; data: string; gap?: number | 'unknown' };
      // A piece past the expected offset: the bytes between fell out of the executor's buffer, or were not stored.
      const skipped = piece.offset > next ? piece.offset - next : 0;
      const unknown = piece.gap === 'unknown';
      next = piece.offset + new TextEncoder().encode(piece.data).length;
      setState((s) => {
        const marker = unknown
          ? '\n… [bytes not shown] …\n'
          : skipped > 0
            ? `\n… [${skipped} bytes not shown] …\n`
            : '';
        const joined = s.text + marker + piece.data;
        const cut = joined.length > MAX_CHARS;
        return {
          ...s,
          live: true,
          text: cut ? joined.slice(joined.length - MAX_CHARS) : joined,
          trimmed: s.trimmed || cut || skipped > 0 || unknown,
        };
      });
    };
    const onEnd = (msg: MessageEvent<string>) => {
      source.close();
      const { status } = JSON.parse(msg.data) as { status: RunStatus };
      setState((s) => ({ ...s, live: false, ended: status }));
    };
    const onUnavailable = (msg: MessageEvent<string>) => {
      source.close();
      const { message } = JSON.parse(msg.data) as { message: string };
      setState((s) => ({ ...s, live: false, failed: message }));
    };
    source.addEventListener('output', onOutput);
    source.addEventListener('end', onEnd);
    source.addEventListener('unavailable', onUnavailable);
    // A refusal (401, 404, 429) closes the source for good; a dropped connection is retried by the browser.
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        setState((s) => ({ ...s, live: false, failed: s.failed ?? 'the live output could not be followed' }));
      } else {
        setState((s) => ({ ...s, live: false }));
      }
    };
    source.onopen = () => setState((s) => ({ ...s, live: true }));
    return () => source.close();
  }, [runId, follow]);

  return state;
}

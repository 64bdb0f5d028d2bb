// Live updates: one EventSource on /api/events for the whole app, on the session cookie. When it fails, every
// listener is poked every 5 s instead (polling), until the stream is back; a stream the browser gave up on is
// reopened every 15 s. EventSource does not tell a 401 from other refusals: a closed stream asks /api/auth/me,
// whose 401 takes the app to the login page like any other call's. With no listener left (the login page), the
// stream is closed.
import { useEffect, useRef, useSyncExternalStore } from 'react';
import type { ChangeEvent } from '@app/contract';
import { api } from '../lib/api';

export type LiveMode = 'connecting' | 'live' | 'polling';
/** A change from the server, or `poll`: "something may have changed, look again". */
export type LiveEvent = ChangeEvent | { type: 'poll' };

const POLL_MS = 5000;
const REOPEN_MS = 15_000;
/** A page change unsubscribes and subscribes again at once: only a channel unused for this long closes. */
const RELEASE_MS = 1000;

class LiveChannel {
  private source: EventSource | null = null;
  private pollTimer: number | undefined;
  private reopenTimer: number | undefined;
  private releaseTimer: number | undefined;
  private readonly listeners = new Set<(e: LiveEvent) => void>();
  private readonly modeListeners = new Set<() => void>();
  mode: LiveMode = 'connecting';

  subscribe(listener: (e: LiveEvent) => void): () => void {
    this.listeners.add(listener);
    this.open();
    return () => {
      this.listeners.delete(listener);
      this.releaseWhenUnused();
    };
  }

  subscribeMode = (listener: () => void): (() => void) => {
    this.modeListeners.add(listener);
    this.open();
    return () => {
      this.modeListeners.delete(listener);
      this.releaseWhenUnused();
    };
  };

  private releaseWhenUnused(): void {
    window.clearTimeout(this.releaseTimer);
    this.releaseTimer = window.setTimeout(() => {
      if (this.listeners.size > 0 || this.modeListeners.size > 0) return;
      this.source?.close();
      this.source = null;
      this.stopPolling();
      window.clearTimeout(this.reopenTimer);
      this.mode = 'connecting';
    }, RELEASE_MS);
  }

  private emit(e: LiveEvent): void {
    for (const l of [...this.listeners]) l(e);
  }

  private setMode(mode: LiveMode): void {
    if (mode === this.mode) return;
    this.mode = mode;
    for (const l of [...this.modeListeners]) l();
  }

  private open(): void {
    window.clearTimeout(this.releaseTimer);
    if (this.source || typeof EventSource === 'undefined') {
      if (!this.source) this.startPolling();
      return;
    }
    window.clearTimeout(this.reopenTimer);
    const source = new EventSource('/api/events'); // same origin: the session cookie goes with it
    this.source = source;
    const onChange = (msg: MessageEvent<string>) => {
      try {
        this.emit(JSON.parse(msg.data) as ChangeEvent);
      } catch {
        this.emit({ type: 'poll' });
      }
    };
    source.addEventListener('job', onChange);
    source.addEventListener('run', onChange);
    source.onopen = () => {
      const wasPolling = this.mode === 'polling';
      this.stopPolling();
      this.setMode('live');
      // Whatever changed while the stream was down was missed: look once.
      if (wasPolling) this.emit({ type: 'poll' });
    };
    source.onerror = () => {
      this.startPolling();
      if (source.readyState === EventSource.CLOSED) {
        // The browser will not retry (a non-SSE answer: 401 once the session is gone, 429 past max_streams):
        // a 401 of /api/auth/me goes to the login page; otherwise reopen later ourselves.
        this.source = null;
        void api.me().catch(() => undefined);
        window.clearTimeout(this.reopenTimer);
        this.reopenTimer = window.setTimeout(() => this.open(), REOPEN_MS);
      }
    };
  }

  private startPolling(): void {
    this.setMode('polling');
    this.pollTimer ??= window.setInterval(() => this.emit({ type: 'poll' }), POLL_MS);
  }

  private stopPolling(): void {
    window.clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }
}

const channel = new LiveChannel();

export function useLiveMode(): LiveMode {
  return useSyncExternalStore(channel.subscribeMode, () => channel.mode);
}

/**
 * Calls `reload` when an event `matches` (and on every poll), at most every 300 ms: a burst of run events becomes
 * one request.
 */
export function useLiveRefresh(reload: () => void, matches: (e: ChangeEvent) => boolean = () => true): void {
  const latest = useRef({ reload, matches });
  useEffect(() => {
    latest.current = { reload, matches };
  });
  useEffect(() => {
    let timer: number | undefined;
    const unsubscribe = channel.subscribe((e) => {
      if (e.type !== 'poll' && !latest.current.matches(e)) return;
      if (timer !== undefined) return;
      timer = window.setTimeout(() => {
        timer = undefined;
        latest.current.reload();
      }, 300);
    });
    return () => {
      window.clearTimeout(timer);
      unsubscribe();
    };
  }, []);
}

/** Calls `fn` every `ms` while mounted (for what has no events: executors, health). */
export function useInterval(fn: () => void, ms: number): void {
  const latest = useRef(fn);
  useEffect(() => {
    latest.current = fn;
  });
  useEffect(() => {
    const t = window.setInterval(() => latest.current(), ms);
    return () => window.clearInterval(t);
  }, [ms]);
}

// Data from the API for one screen: loads on mount and when `deps` change, keeps the last good data while it
// reloads (no flicker on live updates), coalesces reloads asked for while one runs, and drops stale answers.
import { DependencyList, useCallback, useEffect, useRef, useState } from 'react';

export interface Resource<T> {
  data: T | undefined;
  error: unknown;
  /** True until the first answer for the current deps. */
  loading: boolean;
  reload: () => void;
}

export function useResource<T>(load: (signal: AbortSignal) => Promise<T>, deps: DependencyList): Resource<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const loadRef = useRef(load);
  const ctl = useRef({ running: false, again: false, seq: 0, abort: null as AbortController | null });

  useEffect(() => {
    loadRef.current = load;
  });

  const run = useCallback(async () => {
    const c = ctl.current;
    if (c.running) {
      c.again = true;
      return;
    }
    c.running = true;
    try {
      do {
        c.again = false;
        const seq = c.seq;
        const abort = new AbortController();
        c.abort = abort;
        try {
          const value = await loadRef.current(abort.signal);
          if (seq === c.seq) {
            setData(value);
            setError(undefined);
          }
        } catch (e) {
          if (!abort.signal.aborted && seq === c.seq) setError(e);
        }
        if (seq === c.seq) setLoading(false);
      } while (c.again);
    } finally {
      c.running = false;
    }
  }, []);

  useEffect(() => {
    const c = ctl.current;
    c.seq++;
    c.abort?.abort();
    setLoading(true);
    void run();
    return () => {
      c.seq++;
      c.abort?.abort();
    };
    // The caller's deps decide when to reload.
  }, deps);

  const reload = useCallback(() => void run(), [run]);
  return { data, error, loading, reload };
}

/** What closeOnSignals needs of a Nest application: its close(), which runs every shutdown hook. */
export interface Closable {
  close(): Promise<void>;
}

/** A second signal this soon after the first is the same request (see closeOnSignals). */
const REPEAT_IGNORED_MS = 1000;

/**
 * SIGTERM and SIGINT close the application (every shutdown hook runs: work handed back, locks and leases released),
 * then the process exits 0, as the contract says. (Nest's own enableShutdownHooks re-raises the signal once the
 * hooks ran, so the process ended "killed by SIGTERM" rather than with 0.) A hook that throws exits 1; so does a
 * shutdown still running after `deadlineMs` (something held it: an open connection, a hung call), and a second
 * signal a second or more after the first (an operator's second Ctrl-C). A signal right after the first is ignored:
 * Ctrl-C under `npm start` reaches the app from the terminal and, a moment later, from the wrapper.
 */
export function closeOnSignals(app: Closable, log: (message: string) => void, deadlineMs: number): void {
  let closingSince = 0;
  const close = (signal: NodeJS.Signals) => {
    if (closingSince > 0) {
      if (Date.now() - closingSince < REPEAT_IGNORED_MS) return;
      log(`${signal} again: exiting now`);
      process.exit(1);
    }
    closingSince = Date.now();
    log(`${signal}: shutting down`);
    setTimeout(() => {
      log(`shutdown still running after ${deadlineMs} ms: exiting`);
      process.exit(1);
    }, deadlineMs).unref();
    app.close().then(
      () => process.exit(0),
      (e: Error) => {
        log(`shutdown failed: ${e.message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', close);
  process.on('SIGINT', close);
}

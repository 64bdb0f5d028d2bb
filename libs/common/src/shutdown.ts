/** What closeOnSignals needs of a Nest application: its close(), which runs every shutdown hook. */
export interface Closable {
  close(): Promise<void>;
}

/**
 * SIGTERM and SIGINT close the application (every shutdown hook runs: work handed back, locks and leases released),
 * then the process exits 0, as the contract says. (Nest's own enableShutdownHooks re-raises the signal once the
 * hooks ran, so the process ended "killed by SIGTERM" rather than with 0.) A hook that throws exits 1; so does a
 * shutdown still running after `deadlineMs` (something held it: an open connection, a hung call), and a second
 * signal while shutting down (an operator's second Ctrl-C).
 */
export function closeOnSignals(app: Closable, log: (message: string) => void, deadlineMs: number): void {
  let closing = false;
  const close = (signal: NodeJS.Signals) => {
    if (closing) {
      log(`${signal} again: exiting now`);
      process.exit(1);
    }
    closing = true;
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

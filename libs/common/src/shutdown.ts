/** What closeOnSignals needs of a Nest application: its close(), which runs every shutdown hook. */
export interface Closable {
  close(): Promise<void>;
}

/**
 * SIGTERM and SIGINT close the application (every shutdown hook runs: work handed back, locks and leases released),
 * then the process exits 0, as the contract says. (Nest's own enableShutdownHooks re-raises the signal once the
 * hooks ran, so the process ended "killed by SIGTERM" rather than with 0.) A hook that throws exits 1.
 */
export function closeOnSignals(app: Closable, log: (message: string) => void): void {
  let closing = false;
  const close = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    log(`${signal}: shutting down`);
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

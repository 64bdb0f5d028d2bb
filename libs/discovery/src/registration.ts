/** This process's own entry in discovery (an executor or a dispatcher); a no-op with static discovery. */
export interface Registration {
  /** Puts the value under the lease; later calls replace it (load, draining). */
  put(value: object): Promise<void>;
  /** Revokes the lease: the entry disappears at once. */
  stop(): Promise<void>;
  /** Called when the lease could not be renewed for a whole TTL: this process must stop its runs. */
  onLeaseLost(listener: () => void): void;
  /** Called each time a lease holds the key (the first grant, and again after a lost lease); never with static. */
  onRegistered(listener: () => void): void;
}

export const REGISTRATION = Symbol('REGISTRATION');

export class NoopRegistration implements Registration {
  put(): Promise<void> {
    return Promise.resolve();
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  onLeaseLost(): void {
    // Static discovery has no lease to lose.
  }

  onRegistered(): void {
    // Static discovery: registered once put() resolves, for good.
  }
}

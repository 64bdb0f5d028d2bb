// Minimal typing of redlock 4.2.0 as used here (@types/redlock pulls in @types/ioredis 4, which clashes with
// ioredis 5's own types).
declare module 'redlock' {
  import { EventEmitter } from 'node:events';
  namespace Redlock {
    interface Options {
      driftFactor?: number;
      retryCount?: number;
      retryDelay?: number;
      retryJitter?: number;
    }
    class Lock {
      readonly resource: string;
      readonly value: string;
      readonly expiration: number;
      unlock(): Promise<void>;
    }
    class LockError extends Error {
      readonly attempts: number;
    }
  }
  class Redlock extends EventEmitter {
    constructor(clients: unknown[], options?: Redlock.Options);
    static LockError: typeof Redlock.LockError;
    lock(resource: string, ttl: number): Promise<Redlock.Lock>;
    unlock(lock: Redlock.Lock): Promise<void>;
  }
  export = Redlock;
}

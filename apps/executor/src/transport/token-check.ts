import * as grpc from '@grpc/grpc-js';
import { createHash, timingSafeEqual } from 'node:crypto';
import { TOKEN_METADATA_KEY } from '@app/protocol';

/** What a caller without the right token is told: the same whatever it sent, and nothing of what it sent. */
export const UNAUTHENTICATED_DETAILS = 'missing or wrong executor token ([executor] token)';

const BEARER = /^Bearer ([\x21-\x7e]+)$/i;

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Whether a call carries `[executor] token`. Both sides are hashed first, so timingSafeEqual compares 32 bytes
 * whatever the lengths, and the time taken says neither how long the token is nor how much of it was right.
 */
export class TokenCheck {
  private readonly expected: Buffer;

  constructor(token: string) {
    if (!token) throw new Error('TokenCheck needs a token');
    this.expected = digest(token);
  }

  accepts(metadata: grpc.Metadata): boolean {
    return this.acceptsValues(metadata.get(TOKEN_METADATA_KEY));
  }

  /** The same check on the values of an `authorization` header (the executor's /metrics). */
  acceptsValues(values: readonly unknown[]): boolean {
    // One value only: a second authorization entry is an ambiguity no dispatcher sends.
    if (values.length !== 1 || typeof values[0] !== 'string') return false;
    const m = BEARER.exec(values[0]);
    return m !== null && timingSafeEqual(digest(m[1]), this.expected);
  }
}

/**
 * A grpc-js server interceptor: it sees every call to the server, whatever the method (Run, RunBatch, Cancel,
 * Health and any added later, implemented or not), before a handler runs and before the request message is handed
 * on. A call without the token ends with UNAUTHENTICATED; its message, held back until the metadata passes, never
 * reaches a handler.
 */
export function requireToken(check: TokenCheck): grpc.ServerInterceptor {
  return (_method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, pass) => {
            if (check.accepts(metadata)) pass(metadata);
            else call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: UNAUTHENTICATED_DETAILS });
          },
        }),
    });
}

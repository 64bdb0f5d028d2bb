import { HttpException, HttpStatus, Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@app/config';
import type { Principal } from './principal';

/**
 * Open event streams per credential, at most [dispatcher] max_streams: a stream holds a connection and a
 * subscription for as long as the client likes, so one credential can not hold them all.
 */
@Injectable()
export class StreamSlots {
  private readonly open = new Map<string, number>();

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  /** Takes a slot (429 when none is left); the returned function gives it back, once. */
  take(principal: Principal | undefined, address: string): () => void {
    // The credential as the throttler counts it (throttling.ts): a session opened with a token is that token's.
    const key =
      principal && principal.via !== 'open'
        ? principal.tokenId !== null
          ? `token:${principal.tokenId}`
          : `session:${principal.sessionId ?? principal.userId}`
        : `address:${address}`;
    const n = this.open.get(key) ?? 0;
    const max = this.config.dispatcher.maxStreams;
    if (n >= max) {
      throw new HttpException(
        { statusCode: 429, message: `at most ${max} open event streams per credential`, error: 'Too Many Requests' },
        HttpStatus.TOO_MANY_REQUESTS,
      );
    }
    this.open.set(key, n + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      const left = (this.open.get(key) ?? 1) - 1;
      if (left <= 0) this.open.delete(key);
      else this.open.set(key, left);
    };
  }
}

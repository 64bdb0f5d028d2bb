import { HttpException, HttpStatus, Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@app/config';
import type { Principal } from './principal';

/** Output streams (follow=true) of one run a credential may have open on one dispatcher. */
export const FOLLOWS_PER_RUN = 2;

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
    return this.takeKey(
      key,
      this.config.dispatcher.maxStreams,
      `at most ${this.config.dispatcher.maxStreams} open event streams per credential`,
    );
  }

  /**
   * Takes one of the FOLLOWS_PER_RUN follow streams a user (all their sessions) or a token may have open on one
   * run, on this dispatcher (429 beyond): the executor serves at most 8 followers a run, and one viewer must not
   * hold them all. Admins are held to it too: a couple of tabs per run is all anyone needs, and an admin's streams
   * are places taken from everyone else alike. Taken besides `take`, which bounds the streams overall.
   */
  takeFollow(principal: Principal | undefined, address: string, runId: number): () => void {
    const who =
      principal && principal.via !== 'open'
        ? principal.tokenId !== null
          ? `token:${principal.tokenId}`
          : `user:${principal.userId ?? principal.sessionId}`
        : `address:${address}`;
    return this.takeKey(
      `follow:${runId}:${who}`,
      FOLLOWS_PER_RUN,
      `at most ${FOLLOWS_PER_RUN} output streams of one run per credential`,
    );
  }

  private takeKey(key: string, max: number, message: string): () => void {
    const n = this.open.get(key) ?? 0;
    if (n >= max) {
      throw new HttpException({ statusCode: 429, message, error: 'Too Many Requests' }, HttpStatus.TOO_MANY_REQUESTS);
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

import { HttpException } from '@nestjs/common';
import type { AppConfig } from '@app/config';
import type { Principal } from './principal';
import { FOLLOWS_PER_RUN, StreamSlots } from './stream-slots';

const MAX = 3;
const config = { dispatcher: { maxStreams: MAX } } as AppConfig;

const principal = (via: Principal['via'], tokenId: number | null, sessionId: number | null): Principal => ({
  userId: 1,
  username: 'alice',
  role: 'viewer',
  via,
  tokenId,
  sessionId,
  hasPassword: true,
});
const token = (id: number) => principal('token', id, null);
const session = (id: number, viaTokenId: number | null = null) => principal('session', viaTokenId, id);

/** Takes slots until refused; answers how many it got (releasing none). */
function fill(slots: StreamSlots, p: Principal | undefined, address = '10.0.0.1'): number {
  for (let n = 0; ; n++) {
    try {
      slots.take(p, address);
    } catch (e) {
      expect(e).toBeInstanceOf(HttpException);
      expect((e as HttpException).getStatus()).toBe(429);
      expect((e as HttpException).getResponse()).toMatchObject({
        message: `at most ${MAX} open event streams per credential`,
      });
      return n;
    }
    if (n > MAX) throw new Error('no cap');
  }
}

describe('StreamSlots', () => {
  it('caps the open streams of one credential at [dispatcher] max_streams, and frees a slot on release', () => {
    const slots = new StreamSlots(config);
    const releases = Array.from({ length: MAX }, () => slots.take(token(1), '10.0.0.1'));
    expect(() => slots.take(token(1), '10.0.0.2')).toThrow(HttpException);
    releases[0]();
    expect(fill(slots, token(1))).toBe(1);
  });

  it('gives a slot back once: a second release frees nothing more', () => {
    const slots = new StreamSlots(config);
    const release = slots.take(token(1), '10.0.0.1');
    release();
    release();
    release();
    expect(fill(slots, token(1))).toBe(MAX);
  });

  it('counts different credentials apart', () => {
    const slots = new StreamSlots(config);
    expect(fill(slots, token(1))).toBe(MAX);
    expect(fill(slots, token(2))).toBe(MAX);
    expect(fill(slots, session(1))).toBe(MAX);
    expect(fill(slots, session(2))).toBe(MAX);
    // Anonymous (auth disabled, or no principal): per address.
    expect(fill(slots, undefined, '10.0.0.1')).toBe(MAX);
    expect(fill(slots, principal('open', null, null), '10.0.0.2')).toBe(MAX);
    expect(fill(slots, undefined, '10.0.0.3')).toBe(MAX);
  });

  it('counts a session opened with a token apart from a password session of the same number', () => {
    const slots = new StreamSlots(config);
    // Session 5 signed in with a password; session 9 signed in with token 5.
    expect(fill(slots, session(5))).toBe(MAX);
    expect(fill(slots, session(9, 5))).toBe(MAX);
  });

  it("counts a session opened with a token as that token's streams", () => {
    const slots = new StreamSlots(config);
    slots.take(token(4), '10.0.0.1');
    expect(fill(slots, session(11, 4))).toBe(MAX - 1);
    expect(fill(slots, session(12, 4))).toBe(0);
  });
});

describe('StreamSlots.takeFollow (review S3)', () => {
  const refused = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      expect((e as HttpException).getStatus()).toBe(429);
      return true;
    }
    return false;
  };

  it(`lets one credential hold at most ${FOLLOWS_PER_RUN} output streams of a run, so others still get a place`, () => {
    const slots = new StreamSlots({ dispatcher: { maxStreams: 100 } } as AppConfig);
    const alice = session(1);
    const held = Array.from({ length: FOLLOWS_PER_RUN }, () => slots.takeFollow(alice, '10.0.0.1', 41));
    expect(refused(() => slots.takeFollow(alice, '10.0.0.1', 41))).toBe(true);
    // Another session of the same user counts as the same user; another run, token or address does not.
    expect(refused(() => slots.takeFollow(session(2), '10.0.0.1', 41))).toBe(true);
    expect(refused(() => slots.takeFollow(alice, '10.0.0.1', 42))).toBe(false);
    expect(refused(() => slots.takeFollow(token(5), '10.0.0.1', 41))).toBe(false);
    expect(refused(() => slots.takeFollow(undefined, '10.0.0.2', 41))).toBe(false);
    held[0]();
    held[0]();
    expect(refused(() => slots.takeFollow(alice, '10.0.0.1', 41))).toBe(false);
  });
});

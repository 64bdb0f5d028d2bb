import { maskSecrets } from '@app/common';
import { LiveOutput, MAX_FOLLOWERS } from './live-output';
import { ShellRunner } from './shell-runner';
import { NO_ISOLATION } from './task-isolation';

/** Everything released so far, read in pieces of `step` bytes. */
function readAll(live: LiveOutput, from = 0, step = 1 << 20): string {
  let text = '';
  for (let at = from; ;) {
    const slice = live.read(at, step);
    if (slice.bytes === 0) return text;
    text += slice.data;
    at = slice.offset + slice.bytes;
  }
}

describe('LiveOutput', () => {
  it('numbers the bytes of the stream from 0 and reads from any offset', () => {
    const live = new LiveOutput();
    live.append(Buffer.from('hello '));
    live.append('world\n');
    expect(live.length).toBe(12);
    expect(live.read(0, 100)).toEqual({ offset: 0, gap: 0, data: 'hello world\n', bytes: 12 });
    expect(live.read(6, 4)).toEqual({ offset: 6, gap: 0, data: 'worl', bytes: 4 });
    // At or past the end: nothing yet.
    expect(live.read(12, 100)).toEqual({ offset: 12, gap: 0, data: '', bytes: 0 });
    expect(live.read(50, 100)).toEqual({ offset: 50, gap: 0, data: '', bytes: 0 });
  });

  it('keeps the most recent bytes only, and tells a follower behind them the gap it missed', () => {
    const live = new LiveOutput([], 16);
    live.append('0123456789');
    live.append('abcdefghij');
    expect(live.length).toBe(20);
    expect(live.start).toBe(4);
    expect(live.read(0, 100)).toEqual({ offset: 4, gap: 4, data: '456789abcdefghij', bytes: 16 });
    expect(live.read(10, 100)).toEqual({ offset: 10, gap: 0, data: 'abcdefghij', bytes: 10 });
    // One write larger than the ring keeps its end.
    live.append('x'.repeat(20) + 'END');
    expect(live.length).toBe(43);
    expect(live.read(20, 100)).toEqual({ offset: 27, gap: 7, data: 'x'.repeat(13) + 'END', bytes: 16 });
  });

  it('never cuts a character: slices start and end on character boundaries, a split write is decoded whole', () => {
    const live = new LiveOutput([], 16);
    const euro = Buffer.from('€', 'utf8'); // 3 bytes
    live.append(euro.subarray(0, 1));
    // Held as written (no secret: no decoding), but not read until the character is whole.
    expect(live.length).toBe(1);
    expect(live.read(0, 10)).toEqual({ offset: 0, gap: 0, data: '', bytes: 0 });
    live.append(euro.subarray(1));
    live.append('ab€');
    expect(live.length).toBe(8);
    expect(live.read(0, 4)).toEqual({ offset: 0, gap: 0, data: '€a', bytes: 4 });
    expect(live.read(4, 2)).toEqual({ offset: 4, gap: 0, data: 'b€', bytes: 4 });
    // An offset inside a character starts at the next one; the skipped bytes are a gap.
    expect(live.read(1, 10)).toEqual({ offset: 3, gap: 2, data: 'ab€', bytes: 5 });
    live.append('€'.repeat(4) + 'cd');
    // 22 bytes written, 16 held: the oldest held byte (6) is inside the € after "ab", which is skipped.
    expect(live.read(0, 100)).toEqual({ offset: 8, gap: 8, data: '€€€€cd', bytes: 14 });
  });

  it(`takes at most ${MAX_FOLLOWERS} followers, and a place given back can be taken again`, () => {
    const live = new LiveOutput();
    const releases = Array.from({ length: MAX_FOLLOWERS }, () => live.follow());
    expect(releases.every((r) => r !== null)).toBe(true);
    expect(live.follow()).toBeNull();
    releases[0]!();
    releases[0]!(); // once
    expect(live.followerCount).toBe(MAX_FOLLOWERS - 1);
    expect(live.follow()).not.toBeNull();
    expect(live.follow()).toBeNull();
  });

  it('tells listeners of new data and of the end, with the status', () => {
    const live = new LiveOutput();
    const heard = jest.fn();
    const stop = live.onChange(heard);
    live.append('a');
    live.finish('succeeded');
    expect(heard).toHaveBeenCalledTimes(2);
    expect(live.status).toBe('succeeded');
    live.append('late');
    live.finish('failed');
    expect(live.status).toBe('succeeded');
    expect(live.length).toBe(1);
    stop();
  });

  describe('masking', () => {
    const SECRET = 'supersecret';

    it('masks a secret written in one piece, and offsets count the masked bytes', () => {
      const live = new LiveOutput([SECRET]);
      live.append(`token=${SECRET} ok\n`);
      live.finish('succeeded');
      expect(readAll(live)).toBe('token=*** ok\n');
      expect(live.length).toBe(Buffer.byteLength('token=*** ok\n'));
    });

    it('masks a secret split across two writes: no released piece holds any part of it', () => {
      const live = new LiveOutput([SECRET]);
      const pieces: string[] = [];
      let at = 0;
      const collect = () => {
        const s = readAll(live, at);
        if (s) pieces.push(s);
        at = live.length;
      };
      live.onChange(collect);
      live.append('before sup');
      // Held back: "sup" could be the start of the secret.
      expect(pieces.join('')).not.toContain('sup');
      live.append('ersecret after\n');
      live.append('more output to push the cut along\n');
      live.finish('succeeded');
      expect(pieces.join('')).toBe('before *** after\nmore output to push the cut along\n');
      for (const p of pieces) {
        expect(p).not.toContain('sup');
        expect(p).not.toContain('ersecret');
      }
    });

    it('masks secrets that overlap or touch across a write as one, as the recorded output does', () => {
      const live = new LiveOutput(['abcd', 'cdxyzw']);
      live.append('Zabcdxy');
      live.append('zw tail');
      live.finish('succeeded');
      expect(readAll(live)).toBe('Z*** tail');
      const touching = new LiveOutput(['aaaa', 'bbbb']);
      touching.append('-aaaa');
      touching.append('bbbb-');
      touching.finish('succeeded');
      expect(readAll(touching)).toBe('-***-');
    });

    it('releases the held-back end when the run ends', () => {
      const live = new LiveOutput([SECRET]);
      live.append('ends with sup');
      // The last (secret length - 1) characters wait.
      expect(readAll(live)).toBe('end');
      live.complete();
      expect(readAll(live)).toBe('ends with sup');
      expect(live.status).toBeNull();
      live.append('ignored');
      live.finish('failed');
      expect(readAll(live)).toBe('ends with sup');
      expect(live.status).toBe('failed');
    });

    it('a secret printed by a shell task in two halves, with a pause between, never appears in any chunk', async () => {
      const live = new LiveOutput([SECRET]);
      const chunks: string[] = [];
      let at = 0;
      live.onChange(() => {
        const s = readAll(live, at);
        if (s) chunks.push(s);
        at = live.length;
      });
      const task = new ShellRunner(NO_ISOLATION).start(
        {
          runId: 1,
          jobId: 1,
          scheduledAt: '2026-01-02T03:04:05.000Z',
          attempt: 1,
          timeoutMs: 10_000,
          onOutput: (chunk) => live.append(chunk),
        },
        { command: "printf 'sup'; sleep 0.2; printf 'ersecret'; echo ' done'", env: {} },
      );
      const result = await task.done;
      live.finish(result.status);
      expect(result.output).toBe(`${SECRET} done\n`);
      expect(chunks.join('')).toBe('*** done\n');
      for (const c of chunks) {
        expect(c).not.toContain('sup');
        expect(c).not.toContain('ersecret');
      }
    });
  });
});

describe('LiveOutput ring growth', () => {
  it('grows as output arrives and wraps only at full size, keeping every offset', () => {
    const live = new LiveOutput([], 10_000);
    let expected = '';
    for (let i = 0; i < 2000; i++) {
      const line = `line ${i}\n`;
      live.append(line);
      expected += line;
    }
    const total = Buffer.byteLength(expected);
    expect(live.length).toBe(total);
    expect(live.start).toBe(total - 10_000);
    const slice = live.read(0, 1 << 20);
    expect(slice.gap).toBe(total - 10_000);
    expect(slice.data).toBe(expected.slice(total - 10_000));
    expect(live.read(total - 5, 100).data).toBe(expected.slice(-5));
  });
});

describe('LiveOutput masking of repeated secrets (bounded hold)', () => {
  // A small seeded generator, so that a failure can be replayed.
  function rng(seed: number): (n: number) => number {
    let x = seed >>> 0 || 1;
    return (n) => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) % n;
    };
  }

  /** Appends `text` in random pieces of 1..maxPiece bytes; checks every released prefix and the bound on the way. */
  function stream(secrets: string[], text: string, rnd: (n: number) => number, maxPiece: number) {
    const live = new LiveOutput(secrets, 1 << 24);
    const longest = Math.max(0, ...secrets.filter((s) => s.length >= 4).map((s) => s.length));
    const buf = Buffer.from(text, 'utf8');
    let maxHeld = 0;
    for (let i = 0; i < buf.length;) {
      const n = 1 + rnd(maxPiece);
      live.append(buf.subarray(i, i + n));
      i += n;
      // Context (longest - 1) + undecided (longest - 1, one more for a surrogate pair) + a partial character.
      maxHeld = Math.max(maxHeld, live.heldChars);
    }
    live.complete();
    return { live, maxHeld, bound: 2 * longest + 2 };
  }

  it('fuzz: random secrets, repeated patterns, random splits: equals masking the whole text, no leak, bounded', () => {
    const rnd = rng(20261203);
    for (let iter = 0; iter < 3000; iter++) {
      const alpha = iter % 3 === 0 ? 'a' : iter % 3 === 1 ? 'ab' : 'ab€c';
      const word = () => Array.from({ length: 4 + rnd(5) }, () => alpha[rnd(alpha.length)]).join('');
      const secrets = Array.from({ length: 1 + rnd(3) }, word);
      // Mostly secrets back to back, with some noise between them.
      let text = '';
      while (text.length < 40 + rnd(300))
        text += rnd(4) === 0 ? alpha[rnd(alpha.length)] : secrets[rnd(secrets.length)];
      const { live, maxHeld, bound } = stream(secrets, text, rnd, 9);
      const released = readAll(live);
      const whole = maskSecrets(text, secrets);
      if (released !== whole) throw new Error(`mismatch for ${JSON.stringify({ secrets, text, released, whole })}`);
      for (const s of secrets) expect(released.includes(s)).toBe(false);
      expect(maxHeld).toBeLessThanOrEqual(bound);
    }
  });

  it('a secret printed over and over is released as it goes, not held back', () => {
    const secret = 'password1234';
    const live = new LiveOutput([secret]);
    for (let i = 0; i < 100; i++) live.append(`${secret}${secret}`);
    // One merged stretch, as the recorded output has it: its mask is out at once, the rest is swallowed.
    expect(readAll(live)).toBe('***');
    expect(live.heldChars).toBeLessThanOrEqual(2 * secret.length);
    live.append(' done\n');
    live.complete();
    expect(readAll(live)).toBe(maskSecrets(`${secret.repeat(200)} done\n`, [secret]));
  });

  it('1 MiB of back-to-back occurrences of a short secret keeps the held text bounded all along', () => {
    const live = new LiveOutput(['aaaa', 'ab'.repeat(3)]);
    const chunk = Buffer.alloc(4096, 'a');
    let maxHeld = 0;
    for (let i = 0; i < 256; i++) {
      live.append(chunk);
      maxHeld = Math.max(maxHeld, live.heldChars);
    }
    expect(maxHeld).toBeLessThanOrEqual(2 * 6 + 2);
    live.append('\nnext line\n');
    expect(readAll(live)).toBe('***\nnext '); // the last (6 - 1) characters wait
    live.complete();
    expect(readAll(live)).toBe('***\nnext line\n');
  });
});

describe('LiveOutput cost with no secret (nobody may be following)', () => {
  it('takes the bytes as written: no decoding, nothing held, invalid UTF-8 counted as the task wrote it', () => {
    const live = new LiveOutput();
    live.append(Buffer.from([0x61, 0xff, 0x62]));
    expect(live.heldChars).toBe(0);
    // Decoded and re-encoded, 0xff would have been U+FFFD, three bytes.
    expect(live.length).toBe(3);
    expect(live.read(0, 100)).toEqual({ offset: 0, gap: 0, data: 'a\ufffdb', bytes: 3 });
  });

  it('holds memory only for what was printed, up to the ring size', () => {
    const live = new LiveOutput([], 64 * 1024);
    expect(live.memoryBytes).toBe(0);
    live.append('small\n');
    expect(live.memoryBytes).toBeLessThanOrEqual(4096);
    for (let i = 0; i < 100; i++) live.append(Buffer.alloc(1024, 'x'));
    expect(live.memoryBytes).toBe(64 * 1024);
  });

  it('a run of invalid continuation bytes is sent, not skipped as a gap', () => {
    const live = new LiveOutput();
    live.append(Buffer.alloc(100, 0x80));
    const slice = live.read(0, 16);
    expect(slice.gap).toBe(0);
    expect(slice.bytes).toBe(16);
  });
});

describe('LiveOutput reads of bytes as written', () => {
  it('fuzz: valid UTF-8 written in random pieces and read in random sizes comes out whole and in order', () => {
    let x = 7;
    const rnd = (n: number) => ((x = (x * 1103515245 + 12345) & 0x7fffffff), x % n);
    const alpha = ['a', 'é', '€', '😀', '\n'];
    for (let iter = 0; iter < 300; iter++) {
      const text = Array.from({ length: 1 + rnd(200) }, () => alpha[rnd(alpha.length)]).join('');
      const bytes = Buffer.from(text);
      const live = new LiveOutput();
      let got = '';
      let at = 0;
      const drain = () => {
        for (let slice = live.read(at, 1 + rnd(9)); slice.bytes > 0; slice = live.read(at, 1 + rnd(9))) {
          expect(slice.gap).toBe(0);
          got += slice.data;
          at = slice.offset + slice.bytes;
        }
      };
      for (let i = 0; i < bytes.length;) {
        const n = 1 + rnd(5);
        live.append(bytes.subarray(i, i + n));
        i += n;
        drain();
      }
      live.complete();
      drain();
      expect(got).toBe(text);
    }
  });
});

describe('LiveOutput follower places across a reconnect (review S3)', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('keeps the place of a follower told to reconnect for its next call, not for anyone else', () => {
    const live = new LiveOutput([], 1024, 2);
    const a = live.follow(0)!;
    live.follow(0)!;
    // a reached the per-call cap at offset 100: its place is kept for a call from 100.
    a({ offset: 100, ms: 2000 });
    expect(live.follow(0)).toBeNull();
    const back = live.follow(100);
    expect(back).not.toBeNull();
    expect(live.followerCount).toBe(2);
    back!();
    expect(live.followerCount).toBe(1);
  });

  it('gives a kept place back when its follower does not come back in time', () => {
    const live = new LiveOutput([], 1024, 1);
    live.follow(0)!({ offset: 50, ms: 2000 });
    expect(live.follow(0)).toBeNull();
    jest.advanceTimersByTime(2000);
    expect(live.followerCount).toBe(0);
    expect(live.follow(0)).not.toBeNull();
  });
});

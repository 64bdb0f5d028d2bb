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
    expect(live.length).toBe(0);
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

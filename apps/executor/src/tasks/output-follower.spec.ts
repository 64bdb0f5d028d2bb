import { EventEmitter } from 'node:events';
import type { OutputChunk } from '@app/protocol';
import { ChunkSink, followOutput } from './output-follower';
import { LiveOutput } from './runners/live-output';

/** A call's writable side: `write` answers false once `highWater` chunks wait, until drain() is called. */
class FakeCall extends EventEmitter implements ChunkSink {
  cancelled = false;
  readonly chunks: OutputChunk[] = [];
  waiting = 0;

  constructor(private readonly highWater = Infinity) {
    super();
  }

  write(chunk: OutputChunk): boolean {
    this.chunks.push(chunk);
    this.waiting++;
    return this.waiting < this.highWater;
  }

  drain(): void {
    this.waiting = 0;
    this.emit('drain');
  }

  cancel(): void {
    this.cancelled = true;
    this.emit('cancelled');
  }

  text(): string {
    return this.chunks.map((c) => c.data).join('');
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('followOutput', () => {
  it('sends what is there, then what arrives, then the end with the status', async () => {
    const live = new LiveOutput();
    live.append('line1\n');
    const call = new FakeCall();
    const done = followOutput(live, 0, call);
    await tick();
    expect(call.chunks).toEqual([{ offset: 0, data: 'line1\n', gap: 0, end: false, status: '', reconnect: false }]);
    live.append('line2\n');
    await tick();
    live.finish('succeeded');
    await done;
    expect(call.text()).toBe('line1\nline2\n');
    expect(call.chunks.at(-1)).toEqual({
      offset: 12,
      data: '',
      gap: 0,
      end: true,
      status: 'succeeded',
      reconnect: false,
    });
  });

  it('starts from the offset asked for, and reports the gap when it fell out of the ring', async () => {
    const live = new LiveOutput([], 16);
    live.append('0123456789abcdefghij');
    live.finish('failed');
    const from8 = new FakeCall();
    await followOutput(live, 8, from8);
    expect(from8.chunks[0]).toMatchObject({ offset: 8, gap: 0, data: '89abcdefghij' });
    const from0 = new FakeCall();
    await followOutput(live, 0, from0);
    expect(from0.chunks[0]).toMatchObject({ offset: 4, gap: 4, data: '456789abcdefghij' });
    expect(from0.chunks.at(-1)).toMatchObject({ end: true, status: 'failed' });
  });

  it('stops at the byte cap of a call with a chunk saying where to reconnect', async () => {
    const live = new LiveOutput();
    live.append('x'.repeat(100));
    const call = new FakeCall();
    await followOutput(live, 0, call, { maxBytesPerCall: 40, chunkBytes: 16 });
    expect(call.chunks.map((c) => c.data.length)).toEqual([16, 16, 8, 0]);
    expect(call.chunks.at(-1)).toMatchObject({ offset: 40, reconnect: true, end: false });
    // The next call from that offset goes on where this one stopped.
    const next = new FakeCall();
    live.finish('succeeded');
    await followOutput(live, 40, next, { maxBytesPerCall: 1000, chunkBytes: 16 });
    expect(call.text() + next.text()).toBe('x'.repeat(100));
  });

  it('waits for drain when write answers false, reading nothing meanwhile', async () => {
    const live = new LiveOutput();
    live.append('y'.repeat(64));
    live.finish('succeeded');
    const call = new FakeCall(1);
    const done = followOutput(live, 0, call, { maxBytesPerCall: 1000, chunkBytes: 16 });
    await tick();
    expect(call.chunks).toHaveLength(1);
    await tick();
    expect(call.chunks).toHaveLength(1);
    for (let i = 0; i < 5; i++) {
      call.drain();
      await tick();
    }
    await done;
    expect(call.text()).toBe('y'.repeat(64));
    expect(call.chunks.at(-1)).toMatchObject({ end: true });
  });

  it('ends when the call is cancelled while it waits for output', async () => {
    const live = new LiveOutput();
    const call = new FakeCall();
    const done = followOutput(live, 0, call);
    await tick();
    call.cancel();
    await done;
    expect(call.chunks).toEqual([]);
  });
});

describe('followOutput of a run that ended (review S4)', () => {
  it('past the byte cap, sends the rest of an ended run in the same call instead of asking to reconnect', async () => {
    const live = new LiveOutput();
    live.append('x'.repeat(100));
    live.finish('succeeded');
    const call = new FakeCall();
    await followOutput(live, 0, call, { maxBytesPerCall: 40, chunkBytes: 16 });
    expect(call.chunks.some((c) => c.reconnect)).toBe(false);
    expect(call.text()).toBe('x'.repeat(100));
    expect(call.chunks.at(-1)).toMatchObject({ offset: 100, end: true, status: 'succeeded' });
  });
});

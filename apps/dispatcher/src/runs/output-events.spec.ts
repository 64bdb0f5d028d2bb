import { EventEmitter } from 'node:events';
import type { Response } from 'express';
import { HEARTBEAT_MS, writeEventStream } from './output-events';
import type { OutputEvent } from './run-output.service';

/** The part of an express Response the stream writes to; write() answers `ready`. */
class FakeResponse extends EventEmitter {
  readonly written: string[] = [];
  readonly headers: Record<string, string> = {};
  statusCode = 0;
  ended = false;
  ready = true;

  status(code: number): this {
    this.statusCode = code;
    return this;
  }
  setHeader(name: string, value: string): void {
    this.headers[name.toLowerCase()] = value;
  }
  flushHeaders(): void {}
  write(chunk: string): boolean {
    this.written.push(chunk);
    return this.ready;
  }
  end(): void {
    this.ended = true;
  }
  destroyed = false;
  get writableNeedDrain(): boolean {
    return !this.ready;
  }
  destroy(): void {
    this.destroyed = true;
  }
}

/** A source whose events the test pushes one at a time; it records when the stream pulled the next. */
function scriptedSource() {
  const queue: ((e: OutputEvent | null) => void)[] = [];
  let pulls = 0;
  const source = async function* (signal: AbortSignal): AsyncGenerator<OutputEvent> {
    while (!signal.aborted) {
      pulls++;
      const e = await new Promise<OutputEvent | null>((resolve) => queue.push(resolve));
      if (e === null) return;
      yield e;
    }
  };
  return {
    source,
    push: (e: OutputEvent | null) => queue.shift()?.(e),
    get pulls() {
      return pulls;
    },
  };
}

const flush = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

describe('writeEventStream', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('sends text/event-stream headers, a `: ping` comment every 15 s, and ends with the source', async () => {
    const res = new FakeResponse();
    const s = scriptedSource();
    const done = writeEventStream(res as unknown as Response, s.source);
    await flush();
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(res.headers['cache-control']).toContain('no-cache');
    jest.advanceTimersByTime(HEARTBEAT_MS * 2);
    expect(res.written.filter((w) => w === ': ping\n\n')).toHaveLength(2);
    s.push({ type: 'output', offset: 0, data: 'hi' });
    await flush();
    expect(res.written).toContain('id: 2\nevent: output\ndata: {"offset":0,"data":"hi"}\n\n');
    s.push(null);
    await done;
    expect(res.ended).toBe(true);
    // No heartbeat after the end.
    const count = res.written.length;
    jest.advanceTimersByTime(HEARTBEAT_MS * 2);
    expect(res.written).toHaveLength(count);
  });

  it('pulls the next event only after drain when write answers false', async () => {
    const res = new FakeResponse();
    const s = scriptedSource();
    const done = writeEventStream(res as unknown as Response, s.source);
    await flush();
    res.ready = false;
    s.push({ type: 'output', offset: 0, data: 'a' });
    await flush();
    const pulled = s.pulls;
    await flush();
    expect(s.pulls).toBe(pulled);
    res.ready = true;
    res.emit('drain');
    await flush();
    expect(s.pulls).toBe(pulled + 1);
    s.push(null);
    await done;
  });

  it('stops the source when the client goes away', async () => {
    const res = new FakeResponse();
    const seen: AbortSignal[] = [];
    // eslint-disable-next-line require-yield
    const source = async function* (signal: AbortSignal): AsyncGenerator<OutputEvent> {
      seen.push(signal);
      await new Promise((resolve) => signal.addEventListener('abort', resolve));
    };
    const done = writeEventStream(res as unknown as Response, source);
    await flush();
    res.emit('close');
    await done;
    expect(seen[0].aborted).toBe(true);
    expect(res.ended).toBe(true);
  });

  it('on shutdown, destroys a response whose client stopped reading instead of waiting for drain (review S6)', async () => {
    const res = new FakeResponse();
    const s = scriptedSource();
    const shutdown = new AbortController();
    const done = writeEventStream(res as unknown as Response, s.source, { shutdown: shutdown.signal });
    await flush();
    // The client never reads: write answers false and 'drain' never comes.
    res.ready = false;
    s.push({ type: 'output', offset: 0, data: 'x'.repeat(1000) });
    await flush();
    shutdown.abort();
    await done;
    expect(res.destroyed).toBe(true);
    expect(s.pulls).toBe(1);
  });

  it('on shutdown, ends a stream whose client reads (nothing waits) at once', async () => {
    const res = new FakeResponse();
    const s = scriptedSource();
    const shutdown = new AbortController();
    const done = writeEventStream(res as unknown as Response, s.source, { shutdown: shutdown.signal });
    await flush();
    shutdown.abort();
    // The source is waiting for its next event: it is stopped by the abort, not by an event.
    s.push(null);
    await done;
    expect(res.ended).toBe(true);
    expect(res.destroyed).toBe(false);
  });
});

import { BadRequestException } from '@nestjs/common';
import { status } from '@grpc/grpc-js';
import type { RunEntity, RunsRepository } from '@app/persistence';
import type { FollowOutputRequest, OutputChunk } from '@app/protocol';
import type { ExecutorPool } from '../executor-client/executor-pool.service';
import { resumeOffset } from './dto/run-output.dto';
import { REFUSED_RETRY_MS, sseFrame } from './output-events';
// The executor's capture, so that the marker this side parses is the one that side writes.
import { OutputBuffer } from '../../../executor/src/tasks/runners/output-buffer';
import { OutputEvent, RunOutput, storedEvents, storedFrom } from './run-output.service';

const chunk = (c: Partial<OutputChunk>): OutputChunk => ({
  offset: 0,
  data: '',
  gap: 0,
  end: false,
  status: '',
  reconnect: false,
  ...c,
});

function run(r: Partial<RunEntity>): RunEntity {
  return { id: 9, status: 'running', executorAddress: '127.0.0.1:1', output: null, ...r } as RunEntity;
}

/** A RunOutput over a ledger that answers `rows` in turn (the last one again) and an executor scripted per call. */
function setup(rows: RunEntity[], calls: ((req: FollowOutputRequest) => OutputChunk[] | Error)[]) {
  const requests: FollowOutputRequest[] = [];
  let read = 0;
  const runs = {
    findById: () => Promise.resolve(rows[Math.min(read++, rows.length - 1)]),
  } as unknown as RunsRepository;
  const pool = {
    followOutput: async function* (_address: string, req: FollowOutputRequest) {
      requests.push(req);
      const answer = calls[requests.length - 1](req);
      if (answer instanceof Error) throw answer;
      yield* answer;
    },
  } as unknown as ExecutorPool;
  return { output: new RunOutput(runs, pool), requests };
}

async function collect(gen: AsyncGenerator<OutputEvent>): Promise<OutputEvent[]> {
  const out: OutputEvent[] = [];
  for await (const e of gen) out.push(e);
  return out;
}

const fast = { pollMs: 1, pendingWaitMs: 50 };

describe('RunOutput.follow', () => {
  it('calls the executor again from where a capped call stopped, so the client sees one stream', async () => {
    const { output, requests } = setup(
      [run({}), run({ status: 'succeeded', output: 'abcdef' })],
      [
        () => [chunk({ offset: 0, data: 'abc' }), chunk({ offset: 3, reconnect: true })],
        () => [chunk({ offset: 3, data: 'def' }), chunk({ offset: 6, end: true, status: 'succeeded' })],
      ],
    );
    const events = await collect(output.follow(run({}), 0, new AbortController().signal, fast));
    expect(requests).toEqual([
      { runId: 9, offset: 0 },
      { runId: 9, offset: 3 },
    ]);
    expect(events).toEqual([
      { type: 'output', offset: 0, data: 'abc' },
      { type: 'output', offset: 3, data: 'def' },
      { type: 'end', status: 'succeeded' },
    ]);
  });

  it('ends with the recorded rest when the executor no longer holds the run', async () => {
    const notFound = Object.assign(new Error('5 NOT_FOUND'), { code: status.NOT_FOUND });
    const { output } = setup(
      [run({ status: 'failed', output: 'abcdef' })],
      [() => [chunk({ offset: 0, data: 'ab' })], () => notFound],
    );
    const events = await collect(output.follow(run({}), 0, new AbortController().signal, fast));
    expect(events).toEqual([
      { type: 'output', offset: 0, data: 'ab' },
      { type: 'output', offset: 2, data: 'cdef' },
      { type: 'end', status: 'failed' },
    ]);
  });

  it('waits for a pending run to start, and gives up after the bound (the client reconnects)', async () => {
    const { output } = setup([run({ status: 'pending', executorAddress: null })], []);
    const started = Date.now();
    expect(await collect(output.follow(run({ status: 'pending' }), 0, new AbortController().signal, fast))).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });

  it('sends a final run as its recorded output from the offset, then end', async () => {
    const final = run({ status: 'succeeded', output: 'h€llo' });
    const { output } = setup([final], []);
    expect(await collect(output.follow(final, 0, new AbortController().signal, fast))).toEqual([
      { type: 'output', offset: 0, data: 'h€llo' },
      { type: 'end', status: 'succeeded' },
    ]);
    // An offset inside a character starts at the next one; one at the end sends only `end`.
    expect(storedFrom('h€llo', 2)).toEqual({ offset: 4, data: 'llo' });
    expect(storedFrom('h€llo', 7)).toBeNull();
    expect(storedFrom(null, 0)).toBeNull();
  });

  it('passes on a refusal of the executor (too many followers) as an event, then stops', async () => {
    const busy = Object.assign(new Error('8 RESOURCE_EXHAUSTED'), {
      code: status.RESOURCE_EXHAUSTED,
      details: 'run 9 has 8 followers already',
    });
    const { output } = setup([run({})], [() => busy]);
    expect(await collect(output.follow(run({}), 0, new AbortController().signal, fast))).toEqual([
      { type: 'unavailable', message: 'run 9 has 8 followers already' },
    ]);
  });
});

describe('server-sent event framing and resume', () => {
  it('gives an output event the offset past its data as id, and JSON data on one line', () => {
    expect(sseFrame({ type: 'output', offset: 5, data: 'a\n€' })).toBe(
      'id: 10\nevent: output\ndata: {"offset":5,"data":"a\\n€"}\n\n',
    );
    expect(sseFrame({ type: 'end', status: 'failed' })).toBe('event: end\ndata: {"status":"failed"}\n\n');
  });

  it('resumes from Last-Event-ID over ?offset=, and refuses one that is not a byte offset', () => {
    expect(resumeOffset(undefined, undefined)).toBe(0);
    expect(resumeOffset(undefined, 7)).toBe(7);
    expect(resumeOffset('12', 7)).toBe(12);
    expect(() => resumeOffset('-1', 7)).toThrow(BadRequestException);
    expect(() => resumeOffset('1e3', undefined)).toThrow(/Last-Event-ID/);
  });
});

describe('storedEvents: the recorded output under live offsets (review S5)', () => {
  const whole = Array.from({ length: 11_000 }, (_, i) => `line ${String(i).padStart(4, '0')}\n`).join('');
  const buffer = new OutputBuffer();
  buffer.append(whole);
  const stored = buffer.toString();
  const headBytes = stored.indexOf('\n… [');
  const tailBytes = Buffer.byteLength(stored.slice(stored.indexOf('] …\n') + 4));
  const tailStart = whole.length - tailBytes;

  it('is the stored output as it is when it was not truncated', () => {
    expect(storedEvents('abc', false, 1)).toEqual([{ type: 'output', offset: 1, data: 'bc' }]);
    expect(storedEvents('abc', false, 3)).toEqual([]);
  });

  it('inside the head: the rest of the head, then the tail at its real offset with the gap', () => {
    expect(buffer.truncated).toBe(true);
    const events = storedEvents(stored, true, 100);
    expect(events).toEqual([
      { type: 'output', offset: 100, data: whole.slice(100, headBytes) },
      { type: 'output', offset: tailStart, data: whole.slice(tailStart), gap: tailStart - headBytes },
    ]);
  });

  it('in the omitted middle: the tail at its real offset, the bytes skipped as gap, never mislabelled bytes', () => {
    const events = storedEvents(stored, true, 40_000);
    expect(events).toEqual([
      { type: 'output', offset: tailStart, data: whole.slice(tailStart), gap: tailStart - 40_000 },
    ]);
    // Every byte sent is the byte of the stream at that offset.
    for (const e of events) expect(e.data).toBe(whole.slice(e.offset, e.offset + e.data.length));
  });

  it('inside the tail: from the offset; past the end: nothing', () => {
    const at = tailStart + 1000;
    expect(storedEvents(stored, true, at)).toEqual([{ type: 'output', offset: at, data: whole.slice(at) }]);
    expect(storedEvents(stored, true, whole.length)).toEqual([]);
    expect(storedEvents(stored, true, 10 * whole.length)).toEqual([]);
  });

  it('a truncated output without a readable marker is sent whole, with gap unknown', () => {
    expect(storedEvents('head and tail', true, 5000)).toEqual([
      { type: 'output', offset: 5000, data: 'head and tail', gap: 'unknown' },
    ]);
  });

  it('a follow that reached past 1 MiB and finds the run ended gets the stored tail at its offset', async () => {
    const big = new OutputBuffer();
    const text = 'x'.repeat(1_100_000) + 'the end\n';
    big.append(text);
    const { output } = setup(
      [run({}), run({ status: 'succeeded', output: big.toString(), outputTruncated: true })],
      [
        () => [chunk({ offset: 1_048_576, reconnect: true })],
        () => Object.assign(new Error('5 NOT_FOUND'), { code: status.NOT_FOUND }),
      ],
    );
    const events = await collect(output.follow(run({}), 1_048_576, new AbortController().signal, fast));
    const tail = events.find((e) => e.type === 'output') as Extract<OutputEvent, { type: 'output' }>;
    // Without the tail's place, the stored output (64 KiB) has nothing past 1 MiB: the last bytes were dropped.
    expect(tail.offset).toBeGreaterThan(1_048_576);
    expect(tail.data).toBe(text.slice(tail.offset));
    expect(tail.gap).toBe(tail.offset - 1_048_576);
    expect(events.at(-1)).toEqual({ type: 'end', status: 'succeeded' });
  });
});

describe('RunOutput.follow polling is bounded (review S7)', () => {
  /** A ledger that always answers `row`, counting reads; an executor that always fails with `error` (if any). */
  function counting(row: RunEntity, error?: Error) {
    let reads = 0;
    let calls = 0;
    const runs = {
      findById: () => {
        reads++;
        return Promise.resolve(row);
      },
    } as unknown as RunsRepository;
    const pool = {
      // eslint-disable-next-line require-yield
      followOutput: async function* (): AsyncGenerator<OutputChunk> {
        calls++;
        throw error ?? new Error('no executor call expected');
      },
    } as unknown as ExecutorPool;
    return {
      output: new RunOutput(runs, pool),
      get reads() {
        return reads;
      },
      get calls() {
        return calls;
      },
    };
  }

  it('streams waiting on the same pending run share one ledger read', async () => {
    const pending = run({ status: 'pending', executorAddress: null });
    const ledger = counting(pending);
    const opts = { pollMs: 20, maxPollMs: 20, pendingWaitMs: 200 };
    await Promise.all(
      Array.from({ length: 10 }, () => collect(ledger.output.follow(pending, 0, new AbortController().signal, opts))),
    );
    // Alone, each of the 10 would read about 10 times.
    expect(ledger.reads).toBeLessThanOrEqual(20);
  });

  it('backs off while nothing changes, up to maxPollMs', async () => {
    const pending = run({ status: 'pending', executorAddress: null });
    const ledger = counting(pending);
    await collect(
      ledger.output.follow(pending, 0, new AbortController().signal, { pollMs: 5, maxPollMs: 40, pendingWaitMs: 300 }),
    );
    // 5, 10, 20, 40, 40, ...: about 10 reads in 300 ms, where a fixed 5 ms would be about 60.
    expect(ledger.reads).toBeLessThanOrEqual(14);
  });

  it('gives up on an executor that can not be reached after the bound; the client reconnects', async () => {
    const away = Object.assign(new Error('14 UNAVAILABLE'), { code: status.UNAVAILABLE });
    const running = run({});
    const ledger = counting(running, away);
    const started = Date.now();
    const events = await collect(
      ledger.output.follow(running, 0, new AbortController().signal, { pollMs: 5, maxPollMs: 20, pendingWaitMs: 150 }),
    );
    expect(events).toEqual([]);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(ledger.calls).toBeLessThanOrEqual(15);
  });

  it('tells an EventSource to wait longer before reconnecting after a refusal', () => {
    expect(sseFrame({ type: 'unavailable', message: 'busy' })).toBe(
      `retry: ${REFUSED_RETRY_MS}\nevent: unavailable\ndata: {"message":"busy"}\n\n`,
    );
  });
});

import { EventEmitter } from 'node:events';
import { status } from '@grpc/grpc-js';
import type { Metadata, ServerWritableStream } from '@grpc/grpc-js';
import { RpcException } from '@nestjs/microservices';
import type { AppConfig } from '@app/config';
import type { FollowOutputRequest, OutputChunk } from '@app/protocol';
import { lastValueFrom } from 'rxjs';
import { ActiveRuns } from './active-runs';
import { followRequestProblems } from './run-request.validator';
import { LiveOutput, MAX_FOLLOWERS } from './runners/live-output';
import { TasksController } from './tasks.controller';
import { TasksService } from './tasks.service';

type Call = ServerWritableStream<FollowOutputRequest, OutputChunk>;

/** A call whose client never reads (write keeps answering true; nothing drains), cancelled on demand. */
function fakeCall(): Call & { chunks: OutputChunk[]; cancel(): void } {
  const call = new EventEmitter() as EventEmitter & { cancelled: boolean; chunks: OutputChunk[] };
  call.cancelled = false;
  call.chunks = [];
  return Object.assign(call, {
    write: (c: OutputChunk) => call.chunks.push(c) > 0,
    cancel: () => {
      call.cancelled = true;
      call.emit('cancelled');
    },
  }) as unknown as Call & { chunks: OutputChunk[]; cancel(): void };
}

describe('FollowOutput at the gRPC edge', () => {
  const active = new ActiveRuns();
  const config = { executor: { id: 'exec-1' } } as AppConfig;
  const unused = null as never;
  // Following needs only the executor's id and its active runs.
  const tasks = new TasksService(config, unused, unused, active, unused, unused, unused, unused, unused);
  const controller = new TasksController(tasks);
  const metadata = {} as Metadata;
  const follow = (req: FollowOutputRequest, call: Call = fakeCall()) =>
    controller.followOutput(req, metadata, call).then((o) => lastValueFrom(o, { defaultValue: null }));
  const errorOf = async (req: FollowOutputRequest) => {
    const e = (await follow(req).catch((x: unknown) => x)) as RpcException;
    expect(e).toBeInstanceOf(RpcException);
    return e.getError() as { code: number; message: string };
  };

  it('names each bad field of the request (INVALID_ARGUMENT)', async () => {
    expect(followRequestProblems({ runId: 1, offset: 0 })).toEqual([]);
    expect(followRequestProblems({ runId: 0, offset: -1 })).toEqual([
      'run_id: must be a positive integer',
      'offset: must be a non-negative integer',
    ]);
    expect(await errorOf({ runId: -5, offset: 0 })).toEqual({
      code: status.INVALID_ARGUMENT,
      message: 'run_id: must be a positive integer',
    });
  });

  it('answers NOT_FOUND for a run this executor does not hold', async () => {
    expect(await errorOf({ runId: 77, offset: 0 })).toEqual({
      code: status.NOT_FOUND,
      message: 'run 77 is not running on executor exec-1',
    });
  });

  it(`streams to ${MAX_FOLLOWERS} followers and refuses the next with RESOURCE_EXHAUSTED`, async () => {
    const slot = active.reserve(5, 1);
    slot.live = new LiveOutput();
    slot.live.append('hello\n');
    const calls = Array.from({ length: MAX_FOLLOWERS }, () => fakeCall());
    const streams = calls.map((c) => follow({ runId: 5, offset: 0 }, c));
    await new Promise((r) => setImmediate(r));
    expect(calls.every((c) => c.chunks[0]?.data === 'hello\n')).toBe(true);
    expect(await errorOf({ runId: 5, offset: 0 })).toEqual({
      code: status.RESOURCE_EXHAUSTED,
      message: `run 5 has ${MAX_FOLLOWERS} followers already (at most ${MAX_FOLLOWERS} at a time)`,
    });
    // A follower that leaves gives its place back.
    calls[0].cancel();
    await streams[0];
    const late = fakeCall();
    const lateStream = follow({ runId: 5, offset: 3 }, late);
    slot.live.finish('succeeded');
    await Promise.all([...streams, lateStream]);
    expect(late.chunks).toEqual([
      { offset: 3, data: 'lo\n', gap: 0, end: false, status: '', reconnect: false },
      { offset: 6, data: '', gap: 0, end: true, status: 'succeeded', reconnect: false },
    ]);
    expect(slot.live.followerCount).toBe(0);
  });
});

describe('FollowOutput places across the per-call cap (review S3)', () => {
  it('a follower told to reconnect gets its place back on its next call, though others wait for one', async () => {
    const active = new ActiveRuns();
    const unused = null as never;
    const tasks = new TasksService(
      { executor: { id: 'e' } } as AppConfig,
      unused,
      unused,
      active,
      unused,
      unused,
      unused,
      unused,
      unused,
    );
    const controller = new TasksController(tasks);
    const follow = (req: FollowOutputRequest, call: Call) =>
      controller.followOutput(req, {} as Metadata, call).then((o) => lastValueFrom(o, { defaultValue: null }));
    const slot = active.reserve(6, 1);
    const live = (slot.live = new LiveOutput());
    const first = fakeCall();
    const firstDone = follow({ runId: 6, offset: 0 }, first);
    const others = Array.from({ length: MAX_FOLLOWERS - 1 }, () => fakeCall());
    const othersDone = others.map((c) => follow({ runId: 6, offset: 0 }, c));
    // Past 1 MiB, written while they follow: the first call ends with `reconnect`.
    for (let i = 0; i < 20 && !first.chunks.some((c) => c.reconnect); i++) {
      live.append(Buffer.alloc(64 * 1024, 'z'));
      await new Promise((r) => setImmediate(r));
    }
    await firstDone;
    const reconnect = first.chunks.at(-1)!;
    expect(reconnect.reconnect).toBe(true);
    // Someone else asking now is refused: the place is kept for the follower coming back at its offset.
    const stranger = fakeCall();
    const refused = (await follow({ runId: 6, offset: 0 }, stranger).catch((e: unknown) => e)) as RpcException;
    expect((refused.getError() as { code: number }).code).toBe(status.RESOURCE_EXHAUSTED);
    const again = fakeCall();
    const againDone = follow({ runId: 6, offset: reconnect.offset }, again);
    live.finish('succeeded');
    await Promise.all([againDone, ...othersDone]);
    expect(again.chunks.at(-1)).toMatchObject({ end: true, status: 'succeeded' });
    expect(live.followerCount).toBe(0);
  });
});

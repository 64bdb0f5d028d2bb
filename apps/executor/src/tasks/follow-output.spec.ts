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
  const tasks = new TasksService(config, unused, unused, active, unused, unused, unused, unused);
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

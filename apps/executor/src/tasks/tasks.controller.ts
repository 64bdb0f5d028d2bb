import type { Deadline, Metadata, ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import { Controller, Logger } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { EMPTY, Observable } from 'rxjs';
import { EXECUTOR_SERVICE } from '@app/protocol';
import type {
  CancelReply,
  CancelRequest,
  ExecutorController,
  FollowOutputRequest,
  HealthReply,
  OutputChunk,
  RunBatchReply,
  RunBatchRequest,
  RunReply,
  RunRequest,
} from '@app/protocol';
import { TaskError, toRpcException } from './task-errors';
import { TasksService } from './tasks.service';

@Controller()
export class TasksController implements ExecutorController {
  private readonly logger = new Logger(TasksController.name);

  constructor(private readonly tasks: TasksService) {}

  @GrpcMethod(EXECUTOR_SERVICE, 'Run')
  async run(req: RunRequest): Promise<RunReply> {
    return this.edge(() => this.tasks.start(req));
  }

  @GrpcMethod(EXECUTOR_SERVICE, 'RunBatch')
  async runBatch(
    req: RunBatchRequest,
    _metadata: Metadata,
    call: ServerUnaryCall<RunBatchRequest, RunBatchReply>,
  ): Promise<RunBatchReply> {
    const held = {
      get cancelled() {
        return call.cancelled;
      },
      deadlineMs: epochMsOf(call.getDeadline()),
    };
    const outcomes = await this.edge(() => this.tasks.startMany(req.runs, req.waitMs, held));
    return { outcomes, executorId: this.tasks.executorId };
  }

  @GrpcMethod(EXECUTOR_SERVICE, 'Cancel')
  async cancel(req: CancelRequest): Promise<CancelReply> {
    return this.edge(() => Promise.resolve(this.tasks.cancel(req.runId, req.reason || 'cancelled')));
  }

  @GrpcMethod(EXECUTOR_SERVICE, 'Health')
  health(): Promise<HealthReply> {
    return this.edge(() => Promise.resolve(this.tasks.health()));
  }

  /**
   * Writes the chunks to the call itself (respecting back-pressure) and answers an empty Observable when done, which
   * Nest turns into the call's end; a TaskError thrown before the first chunk becomes the call's status.
   */
  @GrpcMethod(EXECUTOR_SERVICE, 'FollowOutput')
  async followOutput(
    req: FollowOutputRequest,
    _metadata: Metadata,
    call: ServerWritableStream<FollowOutputRequest, OutputChunk>,
  ): Promise<Observable<never>> {
    return this.edge(async () => {
      await this.tasks.followOutput(req, call);
      return EMPTY;
    });
  }

  private async edge<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof TaskError) throw toRpcException(e);
      this.logger.error(`unexpected error: ${(e as Error).message}`, (e as Error).stack);
      throw toRpcException(new TaskError('LEDGER_DOWN', 'internal error'));
    }
  }
}

/** A gRPC deadline as epoch ms (Infinity: none). */
function epochMsOf(deadline: Deadline): number {
  return deadline instanceof Date ? deadline.getTime() : deadline;
}

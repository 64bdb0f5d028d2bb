// Original file: proto/executor.proto

import type * as grpc from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import type {
  CancelReply as _gocron_executor_v1_CancelReply,
  CancelReply__Output as _gocron_executor_v1_CancelReply__Output,
} from '../../../gocron/executor/v1/CancelReply';
import type {
  CancelRequest as _gocron_executor_v1_CancelRequest,
  CancelRequest__Output as _gocron_executor_v1_CancelRequest__Output,
} from '../../../gocron/executor/v1/CancelRequest';
import type {
  FollowOutputRequest as _gocron_executor_v1_FollowOutputRequest,
  FollowOutputRequest__Output as _gocron_executor_v1_FollowOutputRequest__Output,
} from '../../../gocron/executor/v1/FollowOutputRequest';
import type {
  HealthReply as _gocron_executor_v1_HealthReply,
  HealthReply__Output as _gocron_executor_v1_HealthReply__Output,
} from '../../../gocron/executor/v1/HealthReply';
import type {
  HealthRequest as _gocron_executor_v1_HealthRequest,
  HealthRequest__Output as _gocron_executor_v1_HealthRequest__Output,
} from '../../../gocron/executor/v1/HealthRequest';
import type {
  OutputChunk as _gocron_executor_v1_OutputChunk,
  OutputChunk__Output as _gocron_executor_v1_OutputChunk__Output,
} from '../../../gocron/executor/v1/OutputChunk';
import type {
  RunBatchReply as _gocron_executor_v1_RunBatchReply,
  RunBatchReply__Output as _gocron_executor_v1_RunBatchReply__Output,
} from '../../../gocron/executor/v1/RunBatchReply';
import type {
  RunBatchRequest as _gocron_executor_v1_RunBatchRequest,
  RunBatchRequest__Output as _gocron_executor_v1_RunBatchRequest__Output,
} from '../../../gocron/executor/v1/RunBatchRequest';
import type {
  RunReply as _gocron_executor_v1_RunReply,
  RunReply__Output as _gocron_executor_v1_RunReply__Output,
} from '../../../gocron/executor/v1/RunReply';
import type {
  RunRequest as _gocron_executor_v1_RunRequest,
  RunRequest__Output as _gocron_executor_v1_RunRequest__Output,
} from '../../../gocron/executor/v1/RunRequest';

export interface ExecutorClient extends grpc.Client {
  /**
   * Stops a run's process or request. NOT_FOUND when this executor does not run it.
   */
  Cancel(
    argument: _gocron_executor_v1_CancelRequest,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_gocron_executor_v1_CancelReply__Output>,
  ): grpc.ClientUnaryCall;
  Cancel(
    argument: _gocron_executor_v1_CancelRequest,
    metadata: grpc.Metadata,
    callback: grpc.requestCallback<_gocron_executor_v1_CancelReply__Output>,
  ): grpc.ClientUnaryCall;
  Cancel(
    argument: _gocron_executor_v1_CancelRequest,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_gocron_executor_v1_CancelReply__Output>,
  ): grpc.ClientUnaryCall;
  Cancel(
    argument: _gocron_executor_v1_CancelRequest,
    callback: grpc.requestCallback<_gocron_executor_v1_CancelReply__Output>,
  ): grpc.ClientUnaryCall;
  /**
   * Stops a run's process or request. NOT_FOUND when this executor does not run it.
   */
  cancel(
    argument: _gocron_executor_v1_CancelRequest,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_gocron_executor_v1_CancelReply__Output>,
  ): grpc.ClientUnaryCall;
  cancel(
    argument: _gocron_executor_v1_CancelRequest,
    metadata: grpc.Metadata,
    callback: grpc.requestCallback<_gocron_executor_v1_CancelReply__Output>,
  ): grpc.ClientUnaryCall;
  cancel(
    argument: _gocron_executor_v1_CancelRequest,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_gocron_executor_v1_CancelReply__Output>,
  ): grpc.ClientUnaryCall;
  cancel(
    argument: _gocron_executor_v1_CancelRequest,
    callback: grpc.requestCallback<_gocron_executor_v1_CancelReply__Output>,
  ): grpc.ClientUnaryCall;

  /**
   * A running run's output as it is written, from `offset` on (bytes of the masked output stream: job secrets are
   * masked before offsets are counted). NOT_FOUND when this executor does not hold the run (it ended and its result is
   * recorded: read the ledger); RESOURCE_EXHAUSTED when the run has 8 followers already. One call sends at most 1 MiB,
   * then ends with a chunk whose `reconnect` is set: call again from its offset. The last chunk of a run that ended
   * has `end` and its final `status`.
   */
  FollowOutput(
    argument: _gocron_executor_v1_FollowOutputRequest,
    metadata: grpc.Metadata,
    options?: grpc.CallOptions,
  ): grpc.ClientReadableStream<_gocron_executor_v1_OutputChunk__Output>;
  FollowOutput(
    argument: _gocron_executor_v1_FollowOutputRequest,
    options?: grpc.CallOptions,
  ): grpc.ClientReadableStream<_gocron_executor_v1_OutputChunk__Output>;
  /**
   * A running run's output as it is written, from `offset` on (bytes of the masked output stream: job secrets are
   * masked before offsets are counted). NOT_FOUND when this executor does not hold the run (it ended and its result is
   * recorded: read the ledger); RESOURCE_EXHAUSTED when the run has 8 followers already. One call sends at most 1 MiB,
   * then ends with a chunk whose `reconnect` is set: call again from its offset. The last chunk of a run that ended
   * has `end` and its final `status`.
   */
  followOutput(
    argument: _gocron_executor_v1_FollowOutputRequest,
    metadata: grpc.Metadata,
    options?: grpc.CallOptions,
  ): grpc.ClientReadableStream<_gocron_executor_v1_OutputChunk__Output>;
  followOutput(
    argument: _gocron_executor_v1_FollowOutputRequest,
    options?: grpc.CallOptions,
  ): grpc.ClientReadableStream<_gocron_executor_v1_OutputChunk__Output>;

  /**
   * Identity, load and the runs in progress.
   */
  Health(
    argument: _gocron_executor_v1_HealthRequest,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_gocron_executor_v1_HealthReply__Output>,
  ): grpc.ClientUnaryCall;
  Health(
    argument: _gocron_executor_v1_HealthRequest,
    metadata: grpc.Metadata,
    callback: grpc.requestCallback<_gocron_executor_v1_HealthReply__Output>,
  ): grpc.ClientUnaryCall;
  Health(
    argument: _gocron_executor_v1_HealthRequest,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_gocron_executor_v1_HealthReply__Output>,
  ): grpc.ClientUnaryCall;
  Health(
    argument: _gocron_executor_v1_HealthRequest,
    callback: grpc.requestCallback<_gocron_executor_v1_HealthReply__Output>,
  ): grpc.ClientUnaryCall;
  /**
   * Identity, load and the runs in progress.
   */
  health(
    argument: _gocron_executor_v1_HealthRequest,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_gocron_executor_v1_HealthReply__Output>,
  ): grpc.ClientUnaryCall;
  health(
    argument: _gocron_executor_v1_HealthRequest,
    metadata: grpc.Metadata,
    callback: grpc.requestCallback<_gocron_executor_v1_HealthReply__Output>,
  ): grpc.ClientUnaryCall;
  health(
    argument: _gocron_executor_v1_HealthRequest,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_gocron_executor_v1_HealthReply__Output>,
  ): grpc.ClientUnaryCall;
  health(
    argument: _gocron_executor_v1_HealthRequest,
    callback: grpc.requestCallback<_gocron_executor_v1_HealthReply__Output>,
  ): grpc.ClientUnaryCall;

  /**
   * Starts a run. Idempotent by run_id: a repeated send of a run this executor already runs answers
   * accepted again; a run that another executor took (or that ended) answers FAILED_PRECONDITION.
   * RESOURCE_EXHAUSTED when the executor is at capacity, UNAVAILABLE while it drains.
   * The dispatcher sends RunBatch only; Run stays for other clients and tools that start one run.
   */
  Run(
    argument: _gocron_executor_v1_RunRequest,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_gocron_executor_v1_RunReply__Output>,
  ): grpc.ClientUnaryCall;
  Run(
    argument: _gocron_executor_v1_RunRequest,
    metadata: grpc.Metadata,
    callback: grpc.requestCallback<_gocron_executor_v1_RunReply__Output>,
  ): grpc.ClientUnaryCall;
  Run(
    argument: _gocron_executor_v1_RunRequest,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_gocron_executor_v1_RunReply__Output>,
  ): grpc.ClientUnaryCall;
  Run(
    argument: _gocron_executor_v1_RunRequest,
    callback: grpc.requestCallback<_gocron_executor_v1_RunReply__Output>,
  ): grpc.ClientUnaryCall;
  /**
   * Starts a run. Idempotent by run_id: a repeated send of a run this executor already runs answers
   * accepted again; a run that another executor took (or that ended) answers FAILED_PRECONDITION.
   * RESOURCE_EXHAUSTED when the executor is at capacity, UNAVAILABLE while it drains.
   * The dispatcher sends RunBatch only; Run stays for other clients and tools that start one run.
   */
  run(
    argument: _gocron_executor_v1_RunRequest,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_gocron_executor_v1_RunReply__Output>,
  ): grpc.ClientUnaryCall;
  run(
    argument: _gocron_executor_v1_RunRequest,
    metadata: grpc.Metadata,
    callback: grpc.requestCallback<_gocron_executor_v1_RunReply__Output>,
  ): grpc.ClientUnaryCall;
  run(
    argument: _gocron_executor_v1_RunRequest,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_gocron_executor_v1_RunReply__Output>,
  ): grpc.ClientUnaryCall;
  run(
    argument: _gocron_executor_v1_RunRequest,
    callback: grpc.requestCallback<_gocron_executor_v1_RunReply__Output>,
  ): grpc.ClientUnaryCall;

  /**
   * Starts many runs in one call (the ticks of one timer firing, a backlog): one ledger compare-and-set for all,
   * each run answered on its own with the outcome Run would have given it. The dispatcher's hot path.
   */
  RunBatch(
    argument: _gocron_executor_v1_RunBatchRequest,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_gocron_executor_v1_RunBatchReply__Output>,
  ): grpc.ClientUnaryCall;
  RunBatch(
    argument: _gocron_executor_v1_RunBatchRequest,
    metadata: grpc.Metadata,
    callback: grpc.requestCallback<_gocron_executor_v1_RunBatchReply__Output>,
  ): grpc.ClientUnaryCall;
  RunBatch(
    argument: _gocron_executor_v1_RunBatchRequest,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_gocron_executor_v1_RunBatchReply__Output>,
  ): grpc.ClientUnaryCall;
  RunBatch(
    argument: _gocron_executor_v1_RunBatchRequest,
    callback: grpc.requestCallback<_gocron_executor_v1_RunBatchReply__Output>,
  ): grpc.ClientUnaryCall;
  /**
   * Starts many runs in one call (the ticks of one timer firing, a backlog): one ledger compare-and-set for all,
   * each run answered on its own with the outcome Run would have given it. The dispatcher's hot path.
   */
  runBatch(
    argument: _gocron_executor_v1_RunBatchRequest,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_gocron_executor_v1_RunBatchReply__Output>,
  ): grpc.ClientUnaryCall;
  runBatch(
    argument: _gocron_executor_v1_RunBatchRequest,
    metadata: grpc.Metadata,
    callback: grpc.requestCallback<_gocron_executor_v1_RunBatchReply__Output>,
  ): grpc.ClientUnaryCall;
  runBatch(
    argument: _gocron_executor_v1_RunBatchRequest,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_gocron_executor_v1_RunBatchReply__Output>,
  ): grpc.ClientUnaryCall;
  runBatch(
    argument: _gocron_executor_v1_RunBatchRequest,
    callback: grpc.requestCallback<_gocron_executor_v1_RunBatchReply__Output>,
  ): grpc.ClientUnaryCall;
}

export interface ExecutorHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Stops a run's process or request. NOT_FOUND when this executor does not run it.
   */
  Cancel: grpc.handleUnaryCall<_gocron_executor_v1_CancelRequest__Output, _gocron_executor_v1_CancelReply>;

  /**
   * A running run's output as it is written, from `offset` on (bytes of the masked output stream: job secrets are
   * masked before offsets are counted). NOT_FOUND when this executor does not hold the run (it ended and its result is
   * recorded: read the ledger); RESOURCE_EXHAUSTED when the run has 8 followers already. One call sends at most 1 MiB,
   * then ends with a chunk whose `reconnect` is set: call again from its offset. The last chunk of a run that ended
   * has `end` and its final `status`.
   */
  FollowOutput: grpc.handleServerStreamingCall<
    _gocron_executor_v1_FollowOutputRequest__Output,
    _gocron_executor_v1_OutputChunk
  >;

  /**
   * Identity, load and the runs in progress.
   */
  Health: grpc.handleUnaryCall<_gocron_executor_v1_HealthRequest__Output, _gocron_executor_v1_HealthReply>;

  /**
   * Starts a run. Idempotent by run_id: a repeated send of a run this executor already runs answers
   * accepted again; a run that another executor took (or that ended) answers FAILED_PRECONDITION.
   * RESOURCE_EXHAUSTED when the executor is at capacity, UNAVAILABLE while it drains.
   * The dispatcher sends RunBatch only; Run stays for other clients and tools that start one run.
   */
  Run: grpc.handleUnaryCall<_gocron_executor_v1_RunRequest__Output, _gocron_executor_v1_RunReply>;

  /**
   * Starts many runs in one call (the ticks of one timer firing, a backlog): one ledger compare-and-set for all,
   * each run answered on its own with the outcome Run would have given it. The dispatcher's hot path.
   */
  RunBatch: grpc.handleUnaryCall<_gocron_executor_v1_RunBatchRequest__Output, _gocron_executor_v1_RunBatchReply>;
}

export interface ExecutorDefinition extends grpc.ServiceDefinition {
  Cancel: MethodDefinition<
    _gocron_executor_v1_CancelRequest,
    _gocron_executor_v1_CancelReply,
    _gocron_executor_v1_CancelRequest__Output,
    _gocron_executor_v1_CancelReply__Output
  >;
  FollowOutput: MethodDefinition<
    _gocron_executor_v1_FollowOutputRequest,
    _gocron_executor_v1_OutputChunk,
    _gocron_executor_v1_FollowOutputRequest__Output,
    _gocron_executor_v1_OutputChunk__Output
  >;
  Health: MethodDefinition<
    _gocron_executor_v1_HealthRequest,
    _gocron_executor_v1_HealthReply,
    _gocron_executor_v1_HealthRequest__Output,
    _gocron_executor_v1_HealthReply__Output
  >;
  Run: MethodDefinition<
    _gocron_executor_v1_RunRequest,
    _gocron_executor_v1_RunReply,
    _gocron_executor_v1_RunRequest__Output,
    _gocron_executor_v1_RunReply__Output
  >;
  RunBatch: MethodDefinition<
    _gocron_executor_v1_RunBatchRequest,
    _gocron_executor_v1_RunBatchReply,
    _gocron_executor_v1_RunBatchRequest__Output,
    _gocron_executor_v1_RunBatchReply__Output
  >;
}

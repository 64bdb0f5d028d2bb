import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type {
  CancelReply as _gocron_executor_v1_CancelReply,
  CancelReply__Output as _gocron_executor_v1_CancelReply__Output,
} from './gocron/executor/v1/CancelReply';
import type {
  CancelRequest as _gocron_executor_v1_CancelRequest,
  CancelRequest__Output as _gocron_executor_v1_CancelRequest__Output,
} from './gocron/executor/v1/CancelRequest';
import type {
  ExecutorClient as _gocron_executor_v1_ExecutorClient,
  ExecutorDefinition as _gocron_executor_v1_ExecutorDefinition,
} from './gocron/executor/v1/Executor';
import type {
  FollowOutputRequest as _gocron_executor_v1_FollowOutputRequest,
  FollowOutputRequest__Output as _gocron_executor_v1_FollowOutputRequest__Output,
} from './gocron/executor/v1/FollowOutputRequest';
import type {
  HealthReply as _gocron_executor_v1_HealthReply,
  HealthReply__Output as _gocron_executor_v1_HealthReply__Output,
} from './gocron/executor/v1/HealthReply';
import type {
  HealthRequest as _gocron_executor_v1_HealthRequest,
  HealthRequest__Output as _gocron_executor_v1_HealthRequest__Output,
} from './gocron/executor/v1/HealthRequest';
import type {
  HttpTask as _gocron_executor_v1_HttpTask,
  HttpTask__Output as _gocron_executor_v1_HttpTask__Output,
} from './gocron/executor/v1/HttpTask';
import type {
  OutputChunk as _gocron_executor_v1_OutputChunk,
  OutputChunk__Output as _gocron_executor_v1_OutputChunk__Output,
} from './gocron/executor/v1/OutputChunk';
import type {
  RetryPolicy as _gocron_executor_v1_RetryPolicy,
  RetryPolicy__Output as _gocron_executor_v1_RetryPolicy__Output,
} from './gocron/executor/v1/RetryPolicy';
import type {
  RunBatchReply as _gocron_executor_v1_RunBatchReply,
  RunBatchReply__Output as _gocron_executor_v1_RunBatchReply__Output,
} from './gocron/executor/v1/RunBatchReply';
import type {
  RunBatchRequest as _gocron_executor_v1_RunBatchRequest,
  RunBatchRequest__Output as _gocron_executor_v1_RunBatchRequest__Output,
} from './gocron/executor/v1/RunBatchRequest';
import type {
  RunOutcome as _gocron_executor_v1_RunOutcome,
  RunOutcome__Output as _gocron_executor_v1_RunOutcome__Output,
} from './gocron/executor/v1/RunOutcome';
import type {
  RunReply as _gocron_executor_v1_RunReply,
  RunReply__Output as _gocron_executor_v1_RunReply__Output,
} from './gocron/executor/v1/RunReply';
import type {
  RunRequest as _gocron_executor_v1_RunRequest,
  RunRequest__Output as _gocron_executor_v1_RunRequest__Output,
} from './gocron/executor/v1/RunRequest';
import type {
  ShellTask as _gocron_executor_v1_ShellTask,
  ShellTask__Output as _gocron_executor_v1_ShellTask__Output,
} from './gocron/executor/v1/ShellTask';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new (...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  gocron: {
    executor: {
      v1: {
        CancelReply: MessageTypeDefinition<_gocron_executor_v1_CancelReply, _gocron_executor_v1_CancelReply__Output>;
        CancelRequest: MessageTypeDefinition<
          _gocron_executor_v1_CancelRequest,
          _gocron_executor_v1_CancelRequest__Output
        >;
        Executor: SubtypeConstructor<typeof grpc.Client, _gocron_executor_v1_ExecutorClient> & {
          service: _gocron_executor_v1_ExecutorDefinition;
        };
        FollowOutputRequest: MessageTypeDefinition<
          _gocron_executor_v1_FollowOutputRequest,
          _gocron_executor_v1_FollowOutputRequest__Output
        >;
        HealthReply: MessageTypeDefinition<_gocron_executor_v1_HealthReply, _gocron_executor_v1_HealthReply__Output>;
        HealthRequest: MessageTypeDefinition<
          _gocron_executor_v1_HealthRequest,
          _gocron_executor_v1_HealthRequest__Output
        >;
        HttpTask: MessageTypeDefinition<_gocron_executor_v1_HttpTask, _gocron_executor_v1_HttpTask__Output>;
        OutputChunk: MessageTypeDefinition<_gocron_executor_v1_OutputChunk, _gocron_executor_v1_OutputChunk__Output>;
        RetryPolicy: MessageTypeDefinition<_gocron_executor_v1_RetryPolicy, _gocron_executor_v1_RetryPolicy__Output>;
        RunBatchReply: MessageTypeDefinition<
          _gocron_executor_v1_RunBatchReply,
          _gocron_executor_v1_RunBatchReply__Output
        >;
        RunBatchRequest: MessageTypeDefinition<
          _gocron_executor_v1_RunBatchRequest,
          _gocron_executor_v1_RunBatchRequest__Output
        >;
        RunOutcome: MessageTypeDefinition<_gocron_executor_v1_RunOutcome, _gocron_executor_v1_RunOutcome__Output>;
        RunReply: MessageTypeDefinition<_gocron_executor_v1_RunReply, _gocron_executor_v1_RunReply__Output>;
        RunRequest: MessageTypeDefinition<_gocron_executor_v1_RunRequest, _gocron_executor_v1_RunRequest__Output>;
        ShellTask: MessageTypeDefinition<_gocron_executor_v1_ShellTask, _gocron_executor_v1_ShellTask__Output>;
      };
    };
  };
}

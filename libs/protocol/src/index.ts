export * from './proto-path';
export type { ExecutorController } from './executor-controller';
export type { ProtoGrpcType } from './generated/executor';
export type { ExecutorClient } from './generated/gocron/executor/v1/Executor';

// Messages as a receiver gets them: the loader's `defaults` fills in every scalar, list, map and absent message (null),
// and `oneofs` names the task present. A sender builds the same complete shape, which the generated client and handler
// types (the permissive `input` types) accept too.
export type { CancelReply__Output as CancelReply } from './generated/gocron/executor/v1/CancelReply';
export type { CancelRequest__Output as CancelRequest } from './generated/gocron/executor/v1/CancelRequest';
export type { FollowOutputRequest__Output as FollowOutputRequest } from './generated/gocron/executor/v1/FollowOutputRequest';
export type { OutputChunk__Output as OutputChunk } from './generated/gocron/executor/v1/OutputChunk';
export type { HealthReply__Output as HealthReply } from './generated/gocron/executor/v1/HealthReply';
export type { HealthRequest__Output as HealthRequest } from './generated/gocron/executor/v1/HealthRequest';
export type { RunBatchReply__Output as RunBatchReply } from './generated/gocron/executor/v1/RunBatchReply';
export type { RunBatchRequest__Output as RunBatchRequest } from './generated/gocron/executor/v1/RunBatchRequest';
export type { RunReply__Output as RunReply } from './generated/gocron/executor/v1/RunReply';
export type { RunRequest__Output as RunRequest } from './generated/gocron/executor/v1/RunRequest';
export type { RunOutcome, RunRefusal } from './run-outcome';
export * from './executor-token';
export * from './tls-files';

// Original file: proto/executor.proto

import type { Long } from '@grpc/proto-loader';

export interface CancelRequest {
  runId?: number | string | Long;
  reason?: string;
}

export interface CancelRequest__Output {
  runId: number;
  reason: string;
}

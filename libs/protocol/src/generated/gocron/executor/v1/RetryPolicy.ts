// Original file: proto/executor.proto

import type { Long } from '@grpc/proto-loader';

export interface RetryPolicy {
  retries?: number;
  retryBackoffMs?: number | string | Long;
}

export interface RetryPolicy__Output {
  retries: number;
  retryBackoffMs: number;
}

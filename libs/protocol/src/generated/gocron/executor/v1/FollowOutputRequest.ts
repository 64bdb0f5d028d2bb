// Original file: proto/executor.proto

import type { Long } from '@grpc/proto-loader';

export interface FollowOutputRequest {
  runId?: number | string | Long;
  /**
   * The byte offset in the run's masked output stream to start from (0: the beginning).
   */
  offset?: number | string | Long;
}

export interface FollowOutputRequest__Output {
  runId: number;
  /**
   * The byte offset in the run's masked output stream to start from (0: the beginning).
   */
  offset: number;
}

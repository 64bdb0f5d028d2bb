// Original file: proto/executor.proto

import type { Long } from '@grpc/proto-loader';

export interface HealthReply {
  executorId?: string;
  group?: string;
  capacity?: number;
  running?: number;
  startedAt?: string;
  draining?: boolean;
  runIds?: (number | string | Long)[];
  address?: string;
}

export interface HealthReply__Output {
  executorId: string;
  group: string;
  capacity: number;
  running: number;
  startedAt: string;
  draining: boolean;
  runIds: number[];
  address: string;
}

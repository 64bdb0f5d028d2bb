// Original file: proto/executor.proto

export interface RunReply {
  accepted?: boolean;
  executorId?: string;
}

export interface RunReply__Output {
  accepted: boolean;
  executorId: string;
}

// Original file: proto/executor.proto

export interface CancelReply {
  cancelled?: boolean;
}

export interface CancelReply__Output {
  cancelled: boolean;
}

import { status } from '@grpc/grpc-js';
import { RpcException } from '@nestjs/microservices';
import type { RunRefusal } from '@app/protocol';

/**
 * A refused run (thrown by `Run`, answered in a RunBatch outcome), a cancel or follow of a run this executor does not
 * have, or a follow of a run that has MAX_FOLLOWERS already.
 */
export type TaskErrorCode = RunRefusal | 'NOT_FOUND' | 'TOO_MANY_FOLLOWERS';

/** Coded executor errors; the gRPC edge maps them to status codes. */
export class TaskError extends Error {
  constructor(
    readonly code: TaskErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function toRpcException(e: TaskError): RpcException {
  const code = ((): status => {
    switch (e.code) {
      case 'INVALID':
        return status.INVALID_ARGUMENT;
      case 'AT_CAPACITY':
      case 'TOO_MANY_FOLLOWERS':
        return status.RESOURCE_EXHAUSTED;
      case 'DRAINING':
      case 'LEDGER_DOWN':
        return status.UNAVAILABLE;
      case 'NOT_PENDING':
      case 'MISMATCH':
        return status.FAILED_PRECONDITION;
      case 'WRONG_GROUP':
        return status.PERMISSION_DENIED;
      case 'NOT_FOUND':
      case 'JOB_GONE':
        return status.NOT_FOUND;
    }
  })();
  return new RpcException({ code, message: e.message });
}

import type {
  handleServerStreamingCall,
  handleUnaryCall,
  Metadata,
  ServerUnaryCall,
  ServerWritableStream,
} from '@grpc/grpc-js';
import type { Observable } from 'rxjs';
import type { ExecutorHandlers } from './generated/gocron/executor/v1/Executor';

/** The RPC names of the service: the generated handlers type also carries grpc-js's string index signature. */
type ExecutorRpc = keyof { [K in keyof ExecutorHandlers as string extends K ? never : K]: true };

/**
 * The Executor service as a Nest `@GrpcMethod` controller serves it: one method per RPC, named after it in lower camel
 * case, so that an RPC added to the proto fails to compile until the controller serves it. A unary RPC takes the
 * decoded request (and, when it needs them, the metadata and the call: RunBatch reads the call's deadline and whether
 * it was cancelled) and answers the reply. A server-streaming RPC gets the call as well (Nest passes request, metadata
 * and call) and writes its messages to it itself, so that it can wait for 'drain' when `write()` returns false (Nest's
 * own Observable path buffers what the client can not take yet, without bound); it settles when it is done writing,
 * with an Observable that emits nothing (completes, or errors with the call's status).
 */
export type ExecutorController = {
  [K in ExecutorRpc as Uncapitalize<K>]: ExecutorHandlers[K] extends handleUnaryCall<infer Req, infer Res>
    ? (req: Req, metadata: Metadata, call: ServerUnaryCall<Req, Res>) => Res | Promise<Res>
    : ExecutorHandlers[K] extends handleServerStreamingCall<infer Req, infer Res>
      ? (req: Req, metadata: Metadata, call: ServerWritableStream<Req, Res>) => Promise<Observable<never>>
      : never;
};

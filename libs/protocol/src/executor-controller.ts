import type { handleUnaryCall } from '@grpc/grpc-js';
import type { ExecutorHandlers } from './generated/gocron/executor/v1/Executor';

/** The RPC names of the service: the generated handlers type also carries grpc-js's string index signature. */
type ExecutorRpc = keyof { [K in keyof ExecutorHandlers as string extends K ? never : K]: true };

/**
 * The Executor service as a Nest `@GrpcMethod` controller serves it: one method per RPC, named after it in lower camel
 * case, taking the decoded request and answering the reply, so that an RPC added to the proto fails to compile until
 * the controller serves it.
 */
export type ExecutorController = {
  [K in ExecutorRpc as Uncapitalize<K>]: ExecutorHandlers[K] extends handleUnaryCall<infer Req, infer Res>
    ? (req: Req) => Res | Promise<Res>
    : never;
};

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { executorProtoPath, PROTO_LOADER_OPTIONS } from '@app/protocol';
import { ExecutorLink, tokenInterceptor } from './executor-link';
import type {
  CancelReply,
  CancelRequest,
  ExecutorClient,
  FollowOutputRequest,
  HealthReply,
  OutputChunk,
  ProtoGrpcType,
  RunBatchReply,
  RunBatchRequest,
} from '@app/protocol';

type ExecutorConstructor = ProtoGrpcType['gocron']['executor']['v1']['Executor'];

let executorConstructor: ExecutorConstructor | null = null;

function loadExecutorConstructor(): ExecutorConstructor {
  if (!executorConstructor) {
    const definition = protoLoader.loadSync(executorProtoPath(), PROTO_LOADER_OPTIONS);
    // loadPackageDefinition is untyped; the generated ProtoGrpcType describes what it builds from this proto.
    const proto = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
    executorConstructor = proto.gocron.executor.v1.Executor;
  }
  return executorConstructor;
}

/** Settles a promise from a unary call's callback: grpc-js passes a message whenever it passes no error. */
function settle<Res>(resolve: (res: Res) => void, reject: (err: grpc.ServiceError) => void): grpc.requestCallback<Res> {
  return (err, res) => (err ? reject(err) : resolve(res!));
}

/**
 * One channel to one executor over `link` (TLS or not); every call carries the link's token and a deadline.
 * `onUnauthenticated` hears of each call the executor refused for its token.
 */
export class ExecutorGrpcClient {
  private readonly stub: ExecutorClient;

  constructor(
    readonly address: string,
    link: ExecutorLink,
    onUnauthenticated: () => void = () => undefined,
  ) {
    const Executor = loadExecutorConstructor();
    this.stub = new Executor(address, link.credentials, {
      interceptors: [tokenInterceptor(link.token, onUnauthenticated)],
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      // Reconnect quickly after an executor restart instead of the default 120 s back-off ceiling.
      'grpc.max_reconnect_backoff_ms': 2_000,
      'grpc.initial_reconnect_backoff_ms': 200,
      // Receive windows of 1 MiB (HTTP/2's default is 64 KiB), as the executor's server has (receive-windows.ts):
      // replies and live output are not held back waiting for this process to send WINDOW_UPDATE while it is busy.
      'grpc-node.flow_control_window': 1024 * 1024,
    });
  }

  runBatch(req: RunBatchRequest, deadlineMs: number): Promise<RunBatchReply> {
    return new Promise((resolve, reject) => {
      this.stub.runBatch(req, { deadline: Date.now() + deadlineMs }, settle(resolve, reject));
    });
  }

  cancel(req: CancelRequest, deadlineMs: number): Promise<CancelReply> {
    return new Promise((resolve, reject) => {
      this.stub.cancel(req, { deadline: Date.now() + deadlineMs }, settle(resolve, reject));
    });
  }

  /**
   * FollowOutput: the chunks as the executor sends them, pulled one at a time (so that a slow reader slows the
   * executor down through HTTP/2 flow control). No deadline: it lasts as long as the run, which keepalive watches;
   * `signal` cancels the call, as does leaving the loop.
   */
  async *followOutput(req: FollowOutputRequest, signal: AbortSignal): AsyncGenerator<OutputChunk> {
    const call = this.stub.followOutput(req);
    const cancel = () => call.cancel();
    signal.addEventListener('abort', cancel, { once: true });
    try {
      for await (const chunk of call) yield chunk as OutputChunk;
    } finally {
      signal.removeEventListener('abort', cancel);
      call.cancel();
    }
  }

  health(deadlineMs: number): Promise<HealthReply> {
    return new Promise((resolve, reject) => {
      this.stub.health({}, { deadline: Date.now() + deadlineMs }, settle(resolve, reject));
    });
  }

  /** Opens the channel now: the first call would otherwise pay for the connection (≈ 50–90 ms). */
  connect(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) =>
      this.stub.waitForReady(Date.now() + timeoutMs, (err) => (err ? reject(err) : resolve())),
    );
  }

  close(): void {
    this.stub.close();
  }
}

export function grpcCode(e: unknown): grpc.status | null {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'number' ? code : null;
}

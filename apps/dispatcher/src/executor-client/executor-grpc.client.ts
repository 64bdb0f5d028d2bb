import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { EXECUTOR_PACKAGE, EXECUTOR_SERVICE, executorProtoPath, PROTO_LOADER_OPTIONS } from '@app/protocol';
import type {
  CancelReply,
  CancelRequest,
  HealthReply,
  RunBatchReply,
  RunBatchRequest,
  RunReply,
  RunRequest,
} from '@app/protocol';

type UnaryCall<Req, Res> = (
  req: Req,
  options: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res: Res) => void,
) => grpc.ClientUnaryCall;

interface ExecutorStub extends grpc.Client {
  Run: UnaryCall<RunRequest, RunReply>;
  RunBatch: UnaryCall<RunBatchRequest, RunBatchReply>;
  Cancel: UnaryCall<CancelRequest, CancelReply>;
  Health: UnaryCall<Record<string, never>, HealthReply>;
}

type StubConstructor = new (address: string, creds: grpc.ChannelCredentials, options?: object) => ExecutorStub;

let stubConstructor: StubConstructor | null = null;

function loadStub(): StubConstructor {
  if (!stubConstructor) {
    const definition = protoLoader.loadSync(executorProtoPath(), PROTO_LOADER_OPTIONS);
    const pkg = grpc.loadPackageDefinition(definition) as unknown as Record<
      string,
      Record<string, Record<string, unknown>>
    >;
    const [a, b, c] = EXECUTOR_PACKAGE.split('.');
    stubConstructor = (pkg[a][b] as unknown as Record<string, Record<string, StubConstructor>>)[c][EXECUTOR_SERVICE];
  }
  return stubConstructor;
}

/** One channel to one executor; every call carries a deadline. */
export class ExecutorGrpcClient {
  private readonly stub: ExecutorStub;

  constructor(readonly address: string) {
    const Stub = loadStub();
    this.stub = new Stub(address, grpc.credentials.createInsecure(), {
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      // Reconnect quickly after an executor restart instead of the default 120 s back-off ceiling.
      'grpc.max_reconnect_backoff_ms': 2_000,
      'grpc.initial_reconnect_backoff_ms': 200,
    });
  }

  run(req: RunRequest, deadlineMs: number): Promise<RunReply> {
    return this.call(this.stub.Run, req, deadlineMs);
  }

  runBatch(req: RunBatchRequest, deadlineMs: number): Promise<RunBatchReply> {
    return this.call(this.stub.RunBatch, req, deadlineMs);
  }

  cancel(req: CancelRequest, deadlineMs: number): Promise<CancelReply> {
    return this.call(this.stub.Cancel, req, deadlineMs);
  }

  health(deadlineMs: number): Promise<HealthReply> {
    return this.call(this.stub.Health, {}, deadlineMs);
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

  private call<Req, Res>(method: UnaryCall<Req, Res>, req: Req, deadlineMs: number): Promise<Res> {
    return new Promise((resolve, reject) => {
      method.call(this.stub, req, { deadline: Date.now() + deadlineMs }, (err, res) =>
        err ? reject(err) : resolve(res),
      );
    });
  }
}

export function grpcCode(e: unknown): grpc.status | null {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'number' ? code : null;
}

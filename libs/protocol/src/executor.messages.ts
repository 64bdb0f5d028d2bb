/** TypeScript shapes of proto/executor.proto as the loader presents them (camelCase, int64 as number). */
export interface ShellTaskMessage {
  command: string;
  env: Record<string, string>;
}

export interface HttpTaskMessage {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  expectStatus: number[];
}

export interface RetryPolicyMessage {
  retries: number;
  retryBackoffMs: number;
}

export interface RunRequest {
  runId: number;
  jobId: number;
  scheduledAt: string;
  attempt: number;
  timeoutMs: number;
  dispatcherId: string;
  shell?: ShellTaskMessage | null;
  http?: HttpTaskMessage | null;
  /** Set by the loader's `oneofs` option: which task field is present. */
  task?: 'shell' | 'http';
  retry?: RetryPolicyMessage | null;
  /** The run's ledger key; empty from a dispatcher that does not send it (the executor then reads the row). */
  tickKey?: string;
  executorKey?: string;
}

export interface RunReply {
  accepted: boolean;
  executorId: string;
}

export interface RunBatchRequest {
  runs: RunRequest[];
}

/** Why an executor did not take a run; each maps to the gRPC status `Run` answers with. */
export type RunRefusal = 'AT_CAPACITY' | 'DRAINING' | 'NOT_PENDING' | 'INVALID' | 'LEDGER_DOWN';

export interface RunOutcome {
  runId: number;
  accepted: boolean;
  /** Empty when accepted. */
  code: RunRefusal | '';
  message: string;
}

export interface RunBatchReply {
  outcomes: RunOutcome[];
  executorId: string;
}

export interface CancelRequest {
  runId: number;
  reason: string;
}

export interface CancelReply {
  cancelled: boolean;
}

export type HealthRequest = Record<string, never>;

export interface HealthReply {
  executorId: string;
  group: string;
  capacity: number;
  running: number;
  startedAt: string;
  draining: boolean;
  runIds: number[];
  address: string;
}

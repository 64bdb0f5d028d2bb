import type { DispatcherJson, ExecutorJson } from '@app/contract';

/** One executor as dispatchers see it (CONTRACT.md: GET /api/executors), and its value in etcd. */
export interface ExecutorInfo extends ExecutorJson {
  /** Stopping: finishes what it runs, takes nothing new. */
  draining: boolean;
}

export type DispatcherInfo = DispatcherJson;

/**
 * Where executors are: static targets probed over gRPC (StaticExecutorDirectory) or an etcd watch
 * (EtcdExecutorDirectory). The scheduling code sees only this interface.
 */
export interface ExecutorDirectory {
  /** True when an executor missing from list() is certainly gone (its lease expired), not just slow to answer. */
  readonly absenceIsFinal: boolean;
  /**
   * Whether list() follows the source now. An etcd copy is not while the watch is disconnected or re-listing: an
   * executor missing from it then may have registered meanwhile. Absent: always.
   */
  isCurrent?(): boolean;
  /** Executors known to be up now (last probe or registration is fresh). */
  list(): ExecutorInfo[];
  /** Called whenever the list changes (an executor came, went, or changed load). */
  onChange(listener: (executors: ExecutorInfo[]) => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export const EXECUTOR_DIRECTORY = Symbol('EXECUTOR_DIRECTORY');

import { Logger } from '@nestjs/common';
import { ExecutorDirectory, ExecutorInfo } from './executor-directory';

export type ExecutorProbe = (address: string) => Promise<ExecutorInfo>;

export interface StaticDirectoryOptions {
  intervalMs: number;
  /** An executor that has not answered for this long is gone. */
  downAfterMs: number;
}

/**
 * Static discovery: a fixed list of addresses, each probed (gRPC Health) every `intervalMs`. An address is listed
 * while its probe answers; its identity and load come from the answer.
 */
export class StaticExecutorDirectory implements ExecutorDirectory {
  readonly absenceIsFinal = false;
  private readonly logger = new Logger(StaticExecutorDirectory.name);
  private readonly state = new Map<string, { info: ExecutorInfo | null; lastOk: number; failing: boolean }>();
  private readonly listeners: ((executors: ExecutorInfo[]) => void)[] = [];
  private timer: NodeJS.Timeout | null = null;
  private snapshot: ExecutorInfo[] = [];

  constructor(
    private readonly targets: string[],
    private readonly probe: ExecutorProbe,
    private readonly options: StaticDirectoryOptions,
  ) {
    for (const t of targets) this.state.set(t, { info: null, lastOk: 0, failing: false });
  }

  list(): ExecutorInfo[] {
    return this.snapshot;
  }

  onChange(listener: (executors: ExecutorInfo[]) => void): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    await this.probeAll();
    this.timer = setInterval(() => void this.probeAll(), this.options.intervalMs);
  }

  stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    return Promise.resolve();
  }

  private async probeAll(): Promise<void> {
    await Promise.all(this.targets.map((t) => this.probeOne(t)));
    const now = Date.now();
    const next = [...this.state.values()]
      .filter((s) => s.info && now - s.lastOk <= this.options.downAfterMs)
      .map((s) => s.info!);
    if (JSON.stringify(next) !== JSON.stringify(this.snapshot)) {
      this.snapshot = next;
      for (const l of this.listeners) l(next);
    }
  }

  private async probeOne(address: string): Promise<void> {
    const s = this.state.get(address)!;
    try {
      s.info = { ...(await this.probe(address)), address };
      s.lastOk = Date.now();
      if (s.failing) this.logger.log(`executor at ${address} is up (${s.info.id})`);
      s.failing = false;
    } catch (e) {
      if (!s.failing) this.logger.warn(`executor at ${address} does not answer: ${(e as Error).message}`);
      s.failing = true;
    }
  }
}

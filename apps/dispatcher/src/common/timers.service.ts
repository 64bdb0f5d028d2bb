import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { LogThrottle } from '@app/common';
import { SchedulerRegistry } from '@nestjs/schedule';

/**
 * The dispatcher's background timers, registered in @nestjs/schedule's SchedulerRegistry under their names (so
 * they show up where Nest looks for them and are cleared at shutdown), in one place instead of an
 * add/doesExist/delete sequence in every service.
 */
@Injectable()
export class Timers implements OnApplicationShutdown {
  private readonly logger = new Logger(Timers.name);
  private readonly failures = new LogThrottle((m) => this.logger.warn(m));
  private readonly intervals = new Set<string>();
  private readonly timeouts = new Set<string>();

  constructor(private readonly registry: SchedulerRegistry) {}

  /**
   * Calls `pass` every `ms`. A pass that throws is logged, never left as an unhandled rejection; a pass that must
   * not overlap itself guards that itself (most do: see their `running` flags).
   */
  every(name: string, ms: number, pass: () => unknown): void {
    this.clearInterval(name);
    const timer = setInterval(() => {
      try {
        const result = pass();
        if (result instanceof Promise) result.catch((e: Error) => this.failed(name, e));
      } catch (e) {
        this.failed(name, e as Error);
      }
    }, ms);
    this.registry.addInterval(name, timer);
    this.intervals.add(name);
  }

  clearInterval(name: string): void {
    if (this.registry.doesExist('interval', name)) this.registry.deleteInterval(name);
    this.intervals.delete(name);
  }

  /** Registers (or, with null, clears) the one timeout known by `name`: a timer owned elsewhere (the due queue). */
  setTimeout(name: string, timer: NodeJS.Timeout | null): void {
    if (this.registry.doesExist('timeout', name)) this.registry.deleteTimeout(name);
    this.timeouts.delete(name);
    if (!timer) return;
    this.registry.addTimeout(name, timer);
    this.timeouts.add(name);
  }

  onApplicationShutdown(): void {
    for (const name of [...this.intervals]) this.clearInterval(name);
    for (const name of [...this.timeouts]) this.setTimeout(name, null);
  }

  private failed(name: string, e: Error): void {
    this.failures.warn(name, `${name} failed: ${e.message}`);
  }
}

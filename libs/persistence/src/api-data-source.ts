import { Logger, OnApplicationShutdown } from '@nestjs/common';
import { LogThrottle } from '@app/common';
import { DataSource } from 'typeorm';
import type { DatabaseConfig } from '@app/config';
import { apiDataSourceOptions } from './data-source-options';

/**
 * The connection the REST API reads through. MySQL: its own small pool with a statement timeout, opened on first
 * use (an executor never opens it) and again after a failed start. SQLite: the one connection every repository
 * shares; there the API's reads are kept cheap by their shape (ApiReads), since a query blocks the event loop.
 */
export class ApiDataSource implements OnApplicationShutdown {
  private readonly logger = new Logger(ApiDataSource.name);
  private readonly failures = new LogThrottle((m) => this.logger.warn(m));
  private readonly own: DataSource | null;
  private ready: Promise<DataSource> | null = null;

  constructor(
    private readonly main: DataSource,
    db: DatabaseConfig,
    timeoutSeconds?: number,
  ) {
    const options = apiDataSourceOptions(db, timeoutSeconds);
    this.own = options.type === 'mysql' ? new DataSource(options) : null;
  }

  readonly get = (): Promise<DataSource> => {
    if (!this.own) return Promise.resolve(this.main);
    this.ready ??= this.own.initialize().catch((e: unknown) => {
      this.ready = null;
      this.failures.warn('connect', `the API's database pool could not connect: ${(e as Error).message}`);
      throw e;
    });
    return this.ready;
  };

  async onApplicationShutdown(): Promise<void> {
    await this.ready?.catch(() => undefined); // a start in flight ends first, so its pool is closed too
    if (this.own?.isInitialized) await this.own.destroy();
  }
}

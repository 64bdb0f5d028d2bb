import { DynamicModule, Module } from '@nestjs/common';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { DatabaseConfig } from '@app/config';
import { ApiDataSource } from './api-data-source';
import { dataSourceOptions } from './data-source-options';
import { ApiReads } from './repositories/api-reads.repository';
import { AuthRepository } from './repositories/auth.repository';
import { JobGraphRepository } from './repositories/job-graph.repository';
import { JobsRepository } from './repositories/jobs.repository';
import { RunLinksRepository } from './repositories/run-links.repository';
import { RunsRepository } from './repositories/runs.repository';
import { RetentionRepository } from './repositories/retention.repository';
import { RunBatchRepository } from './repositories/run-batch.repository';
import { SettingsRepository } from './repositories/settings.repository';
import { NotificationsRepository } from './repositories/notifications.repository';
import { DependencyLedger } from './repositories/dependency-ledger.repository';

@Module({})
export class PersistenceModule {
  static forRoot(db: DatabaseConfig): DynamicModule {
    return {
      module: PersistenceModule,
      global: true,
      imports: [
        TypeOrmModule.forRoot({
          ...dataSourceOptions(db),
          // Free start order: wait for the database with back-off instead of dying.
          retryAttempts: 1_000_000,
          retryDelay: 2000,
        }),
      ],
      providers: [
        JobsRepository,
        RunsRepository,
        RunBatchRepository,
        AuthRepository,
        RetentionRepository,
        SettingsRepository,
        NotificationsRepository,
        DependencyLedger,
        JobGraphRepository,
        RunLinksRepository,
        {
          provide: ApiDataSource,
          useFactory: (main: DataSource) => new ApiDataSource(main, db),
          inject: [getDataSourceToken()],
        },
        { provide: ApiReads, useFactory: (api: ApiDataSource) => new ApiReads(api.get), inject: [ApiDataSource] },
      ],
      exports: [
        JobsRepository,
        RunsRepository,
        RunBatchRepository,
        ApiReads,
        AuthRepository,
        RetentionRepository,
        SettingsRepository,
        NotificationsRepository,
        DependencyLedger,
        JobGraphRepository,
        RunLinksRepository,
      ],
    };
  }
}

import { Module } from '@nestjs/common';
import { ParentRunsRepository, RunLinksRepository } from '@app/persistence';
import { BrokerConsumer } from '../broker/broker-consumer.service';
import { ExecutorMetrics } from '../metrics/executor-metrics';
import { MetricsServer } from '../metrics/metrics-server';
import { ActiveRuns } from './active-runs';
import { DispatcherEndpoints } from './dispatcher-endpoints';
import { JobCache } from './job-cache';
import { LedgerWatch } from './ledger-watch.service';
import { ParentContexts } from './parent-contexts';
import { Presence } from './presence.service';
import { SecretOpener } from './secret-opener';
import { TaskLauncher } from './task-launcher';
import { TasksController } from './tasks.controller';
import { TasksService } from './tasks.service';

@Module({
  controllers: [TasksController],
  providers: [
    ExecutorMetrics,
    MetricsServer,
    ActiveRuns,
    DispatcherEndpoints,
    JobCache,
    SecretOpener,
    // The ledger's reads of dependency runs' parents, provided here: PersistenceModule does not export them.
    RunLinksRepository,
    ParentRunsRepository,
    ParentContexts,
    TaskLauncher,
    LedgerWatch,
    Presence,
    TasksService,
    // [rabbitmq]: inert unless this executor's group is a broker group.
    BrokerConsumer,
  ],
  exports: [Presence],
})
export class TasksModule {}

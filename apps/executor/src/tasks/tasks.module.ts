import { Module } from '@nestjs/common';
import { ActiveRuns } from './active-runs';
import { JobCache } from './job-cache';
import { LedgerWatch } from './ledger-watch.service';
import { Presence } from './presence.service';
import { SecretOpener } from './secret-opener';
import { TaskLauncher } from './task-launcher';
import { TasksController } from './tasks.controller';
import { TasksService } from './tasks.service';

@Module({
  controllers: [TasksController],
  providers: [ActiveRuns, JobCache, SecretOpener, TaskLauncher, LedgerWatch, Presence, TasksService],
  exports: [Presence],
})
export class TasksModule {}

import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig, ConfigModule } from '@app/config';
import { PersistenceModule } from '@app/persistence';
import { TasksModule } from './tasks/tasks.module';

@Module({})
export class ExecutorModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: ExecutorModule,
      imports: [ConfigModule.forRoot(config), PersistenceModule.forRoot(config.database), TasksModule],
    };
  }
}

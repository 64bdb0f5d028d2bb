import { DynamicModule, Global, Module } from '@nestjs/common';
import { AppConfig } from './config.types';

export const APP_CONFIG = Symbol('APP_CONFIG');

/** Provides the config loaded once in main.ts; everything else injects APP_CONFIG. */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: AppConfig): DynamicModule {
    return { module: ConfigModule, providers: [{ provide: APP_CONFIG, useValue: config }], exports: [APP_CONFIG] };
  }
}

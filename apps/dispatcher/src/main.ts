import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DataSource } from 'typeorm';
import { closeOnSignals, createAppLogger } from '@app/common';
import { loadConfigOrExit, orExitOnConfigError } from '@app/config';
import { migrate } from '@app/persistence';
import { AdminBootstrap } from './auth/admin-bootstrap';
import { installEdge } from './auth/edge';
import { installBodyParsing } from './common/body-parsing';
import { serveDashboard } from './dashboard/serve-dashboard';
import { ApiErrorFilter } from './common/domain-error.filter';
import { ApiValidationPipe } from './common/api-validation.pipe';
import { DispatcherModule } from './dispatcher.module';
import { executorLink } from './executor-client/executor-link';
import { DispatcherRegistry } from './cluster/dispatcher-registry.service';
import { SecretsStartup } from './jobs/secrets-startup';
import { setupSwagger } from './swagger';

/** Past this, a shutdown that is still running (something holds it) ends the process with 1. */
const DISPATCHER_SHUTDOWN_MS = 20_000;

/**
 * The dispatcher: REST API, Swagger (/api/docs) and dashboard (/) on [dispatcher] host:port; migrates the
 * database, then schedules every enabled job and hands runs to executors over gRPC.
 *
 * Start order is free: only the database is waited for. etcd (executor list, this dispatcher's registration) and
 * Redis are reached in the background with back-off; until they answer, /api/health says `degraded` and runs wait
 * pending for an executor.
 *
 * Executors are called with [executor] token on every call, over TLS when tls_ca (or tls_cert) is set; the
 * certificates are read here, once (rotating them means restarting).
 */
async function bootstrap(): Promise<void> {
  const config = loadConfigOrExit('dispatcher');
  const link = orExitOnConfigError('dispatcher', () => executorLink(config.executor));
  const app = await NestFactory.create<NestExpressApplication>(DispatcherModule.forRoot(config, link), {
    logger: createAppLogger(),
    bodyParser: false,
    abortOnError: false,
    // At shutdown, open connections (keep-alive, a dashboard's event stream) are closed rather than waited for.
    forceCloseConnections: true,
  });
  const { host, port, id } = config.dispatcher;
  try {
    await migrate(app.get(DataSource));
    await app.get(SecretsStartup).run();
    await app.get(AdminBootstrap).run();
    installEdge(app, config);
    installBodyParsing(app);
    serveDashboard(app);
    app.useGlobalPipes(new ApiValidationPipe());
    app.useGlobalFilters(new ApiErrorFilter());
    setupSwagger(app);
    closeOnSignals(app, (m) => new Logger('Dispatcher').log(m), DISPATCHER_SHUTDOWN_MS);
    await app.listen(port, host);
    app.get(DispatcherRegistry).register();
  } catch (e) {
    // A failed start hands back what it took (its lease, with its shards) rather than leaving it for a TTL.
    new Logger('Dispatcher').error(`start failed: ${(e as Error).stack ?? String(e)}`);
    await app.close().catch(() => undefined);
    process.exit(1);
  }
  new Logger('Dispatcher').log(`dispatcher ${id} listening on http://${host}:${port} (API /api, Swagger /api/docs)`);
}

void bootstrap();

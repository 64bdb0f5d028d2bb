import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MicroserviceOptions, Transport } from '@nestjs/microservices';
import { closeOnSignals, createAppLogger } from '@app/common';
import { loadConfigOrExit, orExitOnConfigError } from '@app/config';
import { EXECUTOR_PACKAGE, executorProtoPath, PROTO_LOADER_OPTIONS } from '@app/protocol';
import { ExecutorModule } from './executor.module';
import { Presence } from './tasks/presence.service';
import { executorTransport } from './transport/executor-transport';
import { withWideReceiveWindows } from './transport/receive-windows';

/**
 * The executor: a gRPC server (proto/executor.proto) on [executor] host:port that runs shell and HTTP tasks,
 * recording each run's start and result in the ledger. SIGTERM drains for up to [executor] drain_timeout.
 *
 * Start order is free: the server listens at once; until a dispatcher has migrated the database to the schema this
 * build needs, Health and RunBatch answer UNAVAILABLE / LEDGER_DOWN naming it, and the executor stays out of
 * discovery. Then it registers (in etcd, with back-off while etcd is down) and takes runs.
 *
 * Every call must carry [executor] token (checked by a server interceptor, before any handler) and, with tls_cert and
 * tls_key, arrive over TLS (with tls_ca: from a client certificate signed by that CA). Certificates are read here,
 * once; rotating them means restarting.
 */
async function bootstrap(): Promise<void> {
  const config = loadConfigOrExit('executor');
  const transport = orExitOnConfigError('executor', () => executorTransport(config.executor));
  const logger = createAppLogger();
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(ExecutorModule.forRoot(config), {
    logger,
    transport: Transport.GRPC,
    options: {
      package: EXECUTOR_PACKAGE,
      protoPath: executorProtoPath(),
      url: `${config.executor.host}:${config.executor.port}`,
      loader: PROTO_LOADER_OPTIONS,
      credentials: transport.credentials,
      // Nest hands channelOptions to the grpc-js Server constructor, whose `interceptors` see every call.
      channelOptions: { interceptors: transport.interceptors },
    },
  });
  // The drain may take drain_timeout; past it and a margin (the hard stop, releasing the lease), the process ends.
  closeOnSignals(app, (m) => new Logger('Executor').log(m), config.executor.drainTimeoutSeconds * 1000 + 20_000);
  // listen() runs the modules' start-up hooks inside the window too (none creates an HTTP/2 server: etcd and the
  // dispatchers' clients use http2.connect, metrics node:http). app.init() first would run every hook twice.
  // With receive windows of 1 MiB a stream, 8 MiB a connection (receive-windows.ts), not HTTP/2's 64 KiB.
  await withWideReceiveWindows(() => app.listen());
  const e = config.executor;
  const log = new Logger('Executor');
  for (const warning of transport.warnings) log.warn(warning);
  log.log(
    `executor ${e.id} listening on ${e.host}:${e.port} (advertise ${e.advertise}, group ${e.group}, capacity ${e.capacity}, ` +
      `tls ${transport.tls}, token ${e.token ? 'required' : 'not required'})`,
  );
  app
    .get(Presence)
    .register()
    .catch((err: Error) => log.error(`registration in discovery failed: ${err.message}`, err.stack));
}

void bootstrap();

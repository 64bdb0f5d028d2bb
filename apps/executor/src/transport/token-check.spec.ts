import * as grpc from '@grpc/grpc-js';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { INestMicroservice } from '@nestjs/common';
import { MicroserviceOptions, Transport } from '@nestjs/microservices';
import { PATTERN_METADATA } from '@nestjs/microservices/constants';
import * as protoLoader from '@grpc/proto-loader';
import { createServer } from 'node:net';
import {
  bearerValue,
  EXECUTOR_PACKAGE,
  EXECUTOR_SERVICE,
  executorProtoPath,
  PROTO_LOADER_OPTIONS,
} from '@app/protocol';
import { TasksController } from '../tasks/tasks.controller';
import { TasksService } from '../tasks/tasks.service';
import { requireToken, TokenCheck, UNAUTHENTICATED_DETAILS } from './token-check';

const TOKEN = 'a-test-token-of-32-characters-xx';

function metadata(...values: string[]): grpc.Metadata {
  const m = new grpc.Metadata();
  for (const v of values) m.add('authorization', v);
  return m;
}

describe('TokenCheck', () => {
  const check = new TokenCheck(TOKEN);

  it('accepts `Bearer <token>` (the scheme in any case)', () => {
    expect(check.accepts(metadata(bearerValue(TOKEN)))).toBe(true);
    expect(check.accepts(metadata(`bearer ${TOKEN}`))).toBe(true);
  });

  it.each([
    ['no authorization', []],
    ['an empty value', ['']],
    ['a wrong token of the same length', [bearerValue(TOKEN.replace(/x$/, 'y'))]],
    ['a prefix of the token', [bearerValue(TOKEN.slice(0, -1))]],
    ['the token and more', [bearerValue(`${TOKEN}x`)]],
    ['the token without the scheme', [TOKEN]],
    ['another scheme', [`Basic ${TOKEN}`]],
    ['two values, one right', [bearerValue('wrong-token-wrong-token'), bearerValue(TOKEN)]],
    ['a trailing space', [`${bearerValue(TOKEN)} `]],
  ])('refuses %s', (_what, values) => {
    expect(check.accepts(metadata(...values))).toBe(false);
  });

  it('refuses to be built without a token (an empty one would match an empty header)', () => {
    expect(() => new TokenCheck('')).toThrow();
  });
});

/** A port nobody listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * The executor's gRPC server as main.ts builds it (Nest microservice, the real TasksController, the interceptor in
 * channelOptions) over a TasksService that only counts calls: every method of the proto's service, called
 * without the token, ends UNAUTHENTICATED and reaches no handler.
 */
describe('requireToken on the executor gRPC server', () => {
  const served: string[] = [];
  const tasks = {
    executorId: 'e-test',
    start: () => (served.push('start'), Promise.resolve({ accepted: true, executorId: 'e-test' })),
    startMany: () => (served.push('startMany'), Promise.resolve([])),
    cancel: () => (served.push('cancel'), { found: false }),
    health: () => (served.push('health'), { executorId: 'e-test' }),
  };
  let app: INestMicroservice;
  let client: grpc.Client;
  let methods: [string, grpc.MethodDefinition<object, object>][];

  beforeAll(async () => {
    @Module({ controllers: [TasksController], providers: [{ provide: TasksService, useValue: tasks }] })
    class TestModule {}
    const address = `127.0.0.1:${await freePort()}`;
    app = await NestFactory.createMicroservice<MicroserviceOptions>(TestModule, {
      logger: false,
      transport: Transport.GRPC,
      options: {
        package: EXECUTOR_PACKAGE,
        protoPath: executorProtoPath(),
        url: address,
        loader: PROTO_LOADER_OPTIONS,
        channelOptions: { interceptors: [requireToken(new TokenCheck(TOKEN))] },
      },
    });
    await app.listen();
    const definition = protoLoader.loadSync(executorProtoPath(), PROTO_LOADER_OPTIONS);
    const service = definition[`${EXECUTOR_PACKAGE}.${EXECUTOR_SERVICE}`] as grpc.ServiceDefinition;
    methods = Object.entries(service) as [string, grpc.MethodDefinition<object, object>][];
    client = new grpc.Client(address, grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    await app?.close();
  });

  const call = (def: grpc.MethodDefinition<object, object>, md: grpc.Metadata) =>
    new Promise<grpc.status>((resolve) =>
      client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, {}, md, (err) =>
        resolve(err ? err.code : grpc.status.OK),
      ),
    );

  it('serves exactly the proto methods TasksController implements with @GrpcMethod', () => {
    const handled = Object.getOwnPropertyNames(TasksController.prototype).flatMap((name) => {
      const fn = (TasksController.prototype as unknown as Record<string, unknown>)[name];
      const patterns = typeof fn === 'function' ? (Reflect.getMetadata(PATTERN_METADATA, fn) as unknown) : undefined;
      return Array.isArray(patterns) ? patterns.map((p: { rpc: string }) => p.rpc) : [];
    });
    expect(handled.sort()).toEqual(methods.map(([name]) => name).sort());
  });

  it('refuses every method without the token, a wrong one, or one of another length, and runs no handler', async () => {
    expect(methods.length).toBeGreaterThanOrEqual(4);
    const wrong = [metadata(), metadata(bearerValue('x'.repeat(TOKEN.length))), metadata(bearerValue('short-token'))];
    for (const [name, def] of methods) {
      for (const md of wrong) expect([name, await call(def, md)]).toEqual([name, grpc.status.UNAUTHENTICATED]);
    }
    expect(served).toEqual([]);
  });

  it('does not echo what the caller sent', async () => {
    const [, def] = methods[0];
    const details = await new Promise<string>((resolve) =>
      client.makeUnaryRequest(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        {},
        metadata(bearerValue('sent-by-caller-123')),
        (err) => resolve(err?.details ?? ''),
      ),
    );
    expect(details).toBe(UNAUTHENTICATED_DETAILS);
  });

  it('lets a call with the token through to its handler', async () => {
    for (const [, def] of methods) await call(def, metadata(bearerValue(TOKEN)));
    expect(served.sort()).toEqual(['cancel', 'health', 'start', 'startMany']);
  });
});

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ConfigError, loadConfig } from '@app/config';
import { EXECUTOR_PACKAGE, EXECUTOR_SERVICE, executorProtoPath, PROTO_LOADER_OPTIONS } from '@app/protocol';
import { join } from 'node:path';
import { ExecutorGrpcClient } from './executor-grpc.client';
import { executorLink, plaintextLink } from './executor-link';

const TOKEN = 'a-test-token-of-32-characters-xx';

/**
 * The dispatcher's side against a bare grpc-js server that records the authorization metadata it gets and answers
 * Health with `answer`.
 */
describe('the token on every call, and refusals heard', () => {
  const seen: string[][] = [];
  let answer: grpc.status = grpc.status.OK;
  let server: grpc.Server;
  let address: string;

  beforeAll(async () => {
    const definition = protoLoader.loadSync(executorProtoPath(), PROTO_LOADER_OPTIONS);
    const service = definition[`${EXECUTOR_PACKAGE}.${EXECUTOR_SERVICE}`] as grpc.ServiceDefinition;
    server = new grpc.Server();
    const record =
      (reply: object): grpc.handleUnaryCall<object, object> =>
      (call, callback) => {
        seen.push(call.metadata.get('authorization').map(String));
        if (answer === grpc.status.OK) callback(null, reply);
        else callback({ code: answer, details: 'no' });
      };
    server.addService(service, {
      Run: record({}),
      RunBatch: record({ outcomes: [] }),
      Cancel: record({}),
      Health: record({ executorId: 'e' }),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    address = `127.0.0.1:${port}`;
  });

  afterAll(() => server.forceShutdown());

  beforeEach(() => {
    seen.length = 0;
    answer = grpc.status.OK;
  });

  it('sends `Bearer <token>` on every method the client has', async () => {
    const refused = jest.fn();
    const c = new ExecutorGrpcClient(address, plaintextLink(TOKEN), refused);
    try {
      await c.health(2000);
      await c.runBatch({ runs: [], waitMs: 0 }, 2000);
      await c.cancel({ runId: 1, reason: 'x' }, 2000);
    } finally {
      c.close();
    }
    expect(seen).toEqual([[`Bearer ${TOKEN}`], [`Bearer ${TOKEN}`], [`Bearer ${TOKEN}`]]);
    expect(refused).not.toHaveBeenCalled();
  });

  it('sends no authorization with an empty token', async () => {
    const c = new ExecutorGrpcClient(address, plaintextLink(''));
    try {
      await c.health(2000);
    } finally {
      c.close();
    }
    expect(seen).toEqual([[]]);
  });

  it('reports each UNAUTHENTICATED answer, and only those', async () => {
    const refused = jest.fn();
    const c = new ExecutorGrpcClient(address, plaintextLink(TOKEN), refused);
    try {
      answer = grpc.status.UNAUTHENTICATED;
      await expect(c.health(2000)).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
      answer = grpc.status.UNAVAILABLE;
      await expect(c.health(2000)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    } finally {
      c.close();
    }
    expect(refused).toHaveBeenCalledTimes(1);
  });
});

describe('executorLink', () => {
  const base = loadConfig(join(__dirname, '../../../../conf/conf.ini'), {}).executor;

  it('is plaintext without tls_ca and tls_cert, carrying the token', () => {
    expect(executorLink({ ...base, token: TOKEN }).token).toBe(TOKEN);
  });

  it('names the key and path of a file it can not read', () => {
    let error: unknown;
    try {
      executorLink({ ...base, tlsCa: '/nonexistent/ca.pem' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual(['[executor] tls_ca: can not read /nonexistent/ca.pem (ENOENT)']);
  });
});

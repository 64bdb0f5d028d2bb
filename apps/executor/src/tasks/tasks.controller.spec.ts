import { status } from '@grpc/grpc-js';
import { RpcException } from '@nestjs/microservices';
import type { RunRequest } from '@app/protocol';
import { TaskError } from './task-errors';
import { TasksController } from './tasks.controller';
import type { TasksService } from './tasks.service';

/** The gRPC edge: the single-run `Run` RPC answers each refusal with its status code, other errors as UNAVAILABLE. */
describe('TasksController', () => {
  const req = {} as RunRequest;
  const codeOf = async (thrown: Error) => {
    const tasks = { start: () => Promise.reject(thrown) } as unknown as TasksService;
    const e = (await new TasksController(tasks).run(req).catch((x: unknown) => x)) as RpcException;
    expect(e).toBeInstanceOf(RpcException);
    return (e.getError() as { code: number; message: string }).code;
  };

  it.each([
    ['INVALID', status.INVALID_ARGUMENT],
    ['AT_CAPACITY', status.RESOURCE_EXHAUSTED],
    ['DRAINING', status.UNAVAILABLE],
    ['LEDGER_DOWN', status.UNAVAILABLE],
    ['NOT_PENDING', status.FAILED_PRECONDITION],
    ['NOT_FOUND', status.NOT_FOUND],
    ['WRONG_GROUP', status.PERMISSION_DENIED],
    ['MISMATCH', status.FAILED_PRECONDITION],
    ['JOB_GONE', status.NOT_FOUND],
  ] as const)('%s → gRPC status %i', async (code, expected) => {
    expect(await codeOf(new TaskError(code, 'x'))).toBe(expected);
  });

  it('answers an unexpected error as UNAVAILABLE without its message', async () => {
    const tasks = { start: () => Promise.reject(new Error('secret detail')) } as unknown as TasksService;
    const e = (await new TasksController(tasks).run(req).catch((x: unknown) => x)) as RpcException;
    expect(e.getError()).toEqual({ code: status.UNAVAILABLE, message: 'internal error' });
  });
});

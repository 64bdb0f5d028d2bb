import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { PersistenceError } from '@app/persistence';
import { DomainError } from './domain-error';

function statusOf(code: DomainError['code']): [number, string] {
  switch (code) {
    case 'NOT_FOUND':
      return [HttpStatus.NOT_FOUND, 'Not Found'];
    case 'CONFLICT':
      return [HttpStatus.CONFLICT, 'Conflict'];
    case 'INVALID':
      return [HttpStatus.BAD_REQUEST, 'Bad Request'];
    case 'STALE':
      return [HttpStatus.PRECONDITION_FAILED, 'Precondition Failed'];
    case 'UNAVAILABLE':
      return [HttpStatus.SERVICE_UNAVAILABLE, 'Service Unavailable'];
  }
}

/** Coded errors from services and libs, answered in Nest's error shape. */
@Catch(DomainError, PersistenceError)
export class DomainErrorFilter implements ExceptionFilter {
  catch(e: DomainError | PersistenceError, host: ArgumentsHost): void {
    const code: DomainError['code'] =
      e instanceof PersistenceError ? (e.code === 'TOO_SLOW' ? 'UNAVAILABLE' : 'CONFLICT') : e.code;
    const [statusCode, error] = statusOf(code);
    host.switchToHttp().getResponse<Response>().status(statusCode).json({ statusCode, message: e.message, error });
  }
}

/**
 * Every error of a request: coded ones as DomainErrorFilter says, HTTP exceptions as Nest answers them, anything
 * else a 500 logged by name, message and stack only. Nest's own handler logs the whole error object, and a failed
 * query's carries its parameters (a password's hash, a token's): those never reach a log from here.
 */
@Catch()
export class ApiErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('ApiError');
  private readonly coded = new DomainErrorFilter();

  catch(e: unknown, host: ArgumentsHost): void {
    if (e instanceof DomainError || e instanceof PersistenceError) return this.coded.catch(e, host);
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) return;
    if (e instanceof HttpException) {
      const body = e.getResponse();
      res.status(e.getStatus()).json(typeof body === 'string' ? { statusCode: e.getStatus(), message: body } : body);
      return;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    this.logger.error({ msg: 'unexpected error', error: `${err.name}: ${err.message}`, stack: err.stack });
    res.status(500).json({ statusCode: 500, message: 'Internal server error', error: 'Internal Server Error' });
  }
}

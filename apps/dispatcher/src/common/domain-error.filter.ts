import { ArgumentsHost, Catch, ExceptionFilter, HttpStatus } from '@nestjs/common';
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

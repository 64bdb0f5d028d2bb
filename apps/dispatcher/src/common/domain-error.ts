/** STALE: a conditional change (If-Match) asked for a version that is no longer the current one. */
export type DomainErrorCode = 'NOT_FOUND' | 'CONFLICT' | 'INVALID' | 'STALE' | 'UNAVAILABLE';

/** A coded error of the dispatcher's services; the HTTP edge maps the code to a status (DomainErrorFilter). */
export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
  ) {
    super(message);
  }

  static notFound(what: string): DomainError {
    return new DomainError('NOT_FOUND', `${what} not found`);
  }
}

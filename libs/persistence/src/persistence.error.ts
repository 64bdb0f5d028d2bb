export type PersistenceErrorCode = 'NAME_TAKEN' | 'TOO_SLOW';

/** A coded error from the persistence layer; the HTTP edge maps codes to status codes. */
export class PersistenceError extends Error {
  constructor(
    readonly code: PersistenceErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'PersistenceError';
  }
}

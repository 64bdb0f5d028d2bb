/** The gRPC metadata key that carries `[executor] token` on every call from a dispatcher to an executor. */
export const TOKEN_METADATA_KEY = 'authorization';

/** The metadata value for `token`: `Bearer <token>`, as HTTP carries bearer tokens (RFC 6750). */
export function bearerValue(token: string): string {
  return `Bearer ${token}`;
}

import { SECRET_MASK, type SecretBox } from '@app/common';
import { JobSecrets, SECRET_FIELDS, sealSecret, storedSecrets } from '@app/persistence';
import { DomainError } from '../common/domain-error';

/** What a create or PATCH says about a job's secrets, per kind: undefined keeps them, null removes them all. */
export interface SecretChange {
  env?: Record<string, string> | null;
  headers?: Record<string, string> | null;
}

/** The value that stands for "keep the stored one": what every read shows, so a read-modify-write keeps secrets. */
export const KEEP = SECRET_MASK;

/**
 * The stored secrets after `change`: a value `***` keeps the one stored under that name, another value is sealed
 * (bound to the job and the name), a name left out of a given map is removed, null removes all of a kind, and a kind
 * left out is kept as stored. Only names reach messages.
 */
export function changedSecrets(
  box: SecretBox,
  jobId: number,
  stored: JobSecrets | null | undefined,
  change: SecretChange,
): JobSecrets | null {
  const out: JobSecrets = {};
  for (const kind of ['env', 'headers'] as const) {
    const given = change[kind];
    const before = stored?.[kind] ?? {};
    if (given === undefined) {
      out[kind] = before;
      continue;
    }
    if (given === null) continue;
    const after: Record<string, string> = {};
    for (const [name, value] of Object.entries(given)) {
      if (value !== KEEP) {
        after[name] = sealSecret(box, jobId, kind, name, value);
      } else if (Object.hasOwn(before, name)) {
        after[name] = before[name];
      } else {
        throw new DomainError(
          'INVALID',
          `${SECRET_FIELDS[kind]}.${name} is "${KEEP}" (keep the stored value), but the job has no such secret`,
        );
      }
    }
    out[kind] = after;
  }
  return storedSecrets(out);
}

/** A change that sets no secret value: a job can be created without the two writes a sealed value needs. */
export function setsNoSecret(change: SecretChange): boolean {
  return [change.env, change.headers].every((map) => !map || Object.keys(map).length === 0);
}

/**
 * A name both plain and secret is refused, naming it: which value the task got would be a guess. Header names are
 * compared case-insensitively, as HTTP does.
 */
export function checkNoOverlap(
  env: Record<string, string>,
  headers: Record<string, string> | undefined,
  secrets: JobSecrets | null,
): void {
  for (const name of Object.keys(secrets?.env ?? {})) {
    if (Object.hasOwn(env, name)) {
      throw new DomainError('INVALID', `${name} is in both env and secretEnv: keep it in one of them`);
    }
  }
  const plain = new Set(Object.keys(headers ?? {}).map((h) => h.toLowerCase()));
  for (const name of Object.keys(secrets?.headers ?? {})) {
    if (plain.has(name.toLowerCase())) {
      throw new DomainError(
        'INVALID',
        `${name} is in both http.headers and http.secretHeaders (names are case-insensitive): keep it in one of them`,
      );
    }
  }
  const seen = new Set<string>();
  for (const name of Object.keys(secrets?.headers ?? {})) {
    if (seen.has(name.toLowerCase())) {
      throw new DomainError('INVALID', `http.secretHeaders names ${name} twice (names are case-insensitive)`);
    }
    seen.add(name.toLowerCase());
  }
}

/** Headers that are credentials wherever they are sent: kept as secret headers, never as plain ones. */
export const CREDENTIAL_HEADER = /^(authorization|proxy-authorization|cookie|x-api-key)$/i;

/**
 * A create or PATCH with its credential headers (`Authorization`, `Proxy-Authorization`, `Cookie`, `X-Api-Key`) moved
 * from `http.headers` into `http.secretHeaders`, so a client that sends them as plain headers still gets them
 * write-only. When the change names no secret headers, the stored ones (`storedNames`) are kept alongside.
 */
export function withCredentialHeadersMoved<T extends { http?: unknown }>(dto: T, storedNames: readonly string[]): T {
  const http = dto.http as { headers?: Record<string, string> | null; secretHeaders?: Record<string, string> | null };
  if (!http || typeof http !== 'object' || !http.headers || typeof http.headers !== 'object') return dto;
  // A name the change also gives as a secret header stays where it is: the overlap check refuses the change.
  const alsoSecret = new Set(Object.keys(http.secretHeaders ?? {}).map((n) => n.toLowerCase()));
  const movable = (name: string) => CREDENTIAL_HEADER.test(name) && !alsoSecret.has(name.toLowerCase());
  const moved = Object.entries(http.headers).filter(([name]) => movable(name));
  if (moved.length === 0) return dto;
  const headers = Object.fromEntries(Object.entries(http.headers).filter(([name]) => !movable(name)));
  const base = http.secretHeaders ?? Object.fromEntries(storedNames.map((n) => [n, KEEP]));
  const secretHeaders = { ...base };
  for (const [name, value] of moved) {
    for (const existing of Object.keys(secretHeaders)) {
      if (existing.toLowerCase() === name.toLowerCase()) delete secretHeaders[existing];
    }
    secretHeaders[name] = value;
  }
  return { ...dto, http: { ...http, headers, secretHeaders } };
}

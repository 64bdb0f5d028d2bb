import { SECRET_MASK, SecretBox, SecretBoxError } from '@app/common';
import type { JobEntity, JobSecrets } from './entities/job.entity';

/** A job's secrets in plaintext: only ever in the dispatcher while it seals them, and in the executor running it. */
export interface PlainSecrets {
  env: Record<string, string>;
  headers: Record<string, string>;
}

export const NO_SECRETS: PlainSecrets = Object.freeze({ env: Object.freeze({}), headers: Object.freeze({}) });

type Kind = keyof JobSecrets;
/** How the API names each kind, for messages. */
export const SECRET_FIELDS: Record<Kind, string> = { env: 'secretEnv', headers: 'http.secretHeaders' };

/**
 * What a sealed value is bound to: the job, the kind and the name. A value copied to another job, or to another name
 * in the same job, does not open (GCM's additional data).
 */
export function secretContext(jobId: number, kind: Kind, name: string): string {
  return `gocron/job/${jobId}/${kind}/${name}`;
}

/** Seals one value of a job. */
export function sealSecret(box: SecretBox, jobId: number, kind: Kind, name: string, plain: string): string {
  return box.seal(plain, secretContext(jobId, kind, name));
}

/** The stored form of a job's secrets, null when there are none. */
export function storedSecrets(secrets: JobSecrets): JobSecrets | null {
  const out: JobSecrets = {};
  if (secrets.env && Object.keys(secrets.env).length > 0) out.env = secrets.env;
  if (secrets.headers && Object.keys(secrets.headers).length > 0) out.headers = secrets.headers;
  return out.env || out.headers ? out : null;
}

/** The names of a job's secrets, each with the mask as its value: what every read of the job shows. */
export function maskedSecrets(job: Pick<JobEntity, 'secrets'>, kind: Kind): Record<string, string> {
  const map = job.secrets?.[kind];
  if (!map || typeof map !== 'object') return {};
  return Object.fromEntries(Object.keys(map).map((name) => [name, SECRET_MASK]));
}

/**
 * A job's secrets opened with the key, or the problem (naming the job and the secret, never a value): a value sealed
 * with another key, moved from another job, or altered does not open.
 */
export function openSecrets(
  box: SecretBox,
  job: Pick<JobEntity, 'id' | 'secrets'>,
): PlainSecrets | { problem: string } {
  if (!job.secrets) return NO_SECRETS;
  const out: PlainSecrets = { env: {}, headers: {} };
  for (const kind of ['env', 'headers'] as const) {
    const map = job.secrets[kind];
    if (map === undefined || map === null) continue;
    if (typeof map !== 'object' || Array.isArray(map)) {
      return { problem: `job ${job.id}'s ${SECRET_FIELDS[kind]} is not a map of sealed values` };
    }
    for (const [name, sealed] of Object.entries(map)) {
      try {
        out[kind][name] = box.open(sealed, secretContext(job.id, kind, name));
      } catch (e) {
        if (!(e instanceof SecretBoxError)) throw e;
        return { problem: `job ${job.id}'s ${SECRET_FIELDS[kind]}.${name} ${e.message}` };
      }
    }
  }
  return out;
}

/** Every plaintext value of the secrets, for masking. */
export function secretValues(secrets: PlainSecrets): string[] {
  return [...Object.values(secrets.env), ...Object.values(secrets.headers)];
}

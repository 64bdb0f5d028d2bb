import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { createSecretFile, readSecretFile } from './secret-file';

/** Where the first start leaves the secret key when none is configured (relative to the working directory). */
export const SECRET_KEY_FILE = 'data/secret.key';
/** The configuration key, as errors name it. */
export const SECRET_KEY_SETTING = '[auth] secret_key (GOCRON_AUTH_SECRET_KEY)';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
/** A passphrase shorter than this is refused: it is stretched by HKDF, which adds no work factor. */
const MIN_PASSPHRASE = 32;
const B64URL = /^[A-Za-z0-9_-]+$/;

/** A sealed value that can not be opened: another key, a value moved to another job or name, or tampering. */
export class SecretBoxError extends Error {}

/**
 * Secrets at rest: AES-256-GCM, a random 96-bit IV per value, the 128-bit tag checked on opening. A sealed value is
 * `v1.<iv>.<ciphertext+tag>` (base64url). `context` is bound in as additional authenticated data (the job and the
 * secret's name), so a value copied into another job's row, or under another name, does not open: a writer of the
 * database can not make a job of theirs decrypt someone else's secret.
 */
export class SecretBox {
  /** Tells keys apart without revealing them: HMAC-SHA256 of a constant, 16 hex digits. */
  readonly fingerprint: string;

  constructor(private readonly key: Buffer) {
    if (key.length !== KEY_BYTES) throw new RangeError(`a secret key is ${KEY_BYTES} bytes`);
    this.fingerprint = createHmac('sha256', key).update('gocron-secret-key-fingerprint').digest('hex').slice(0, 16);
  }

  seal(plain: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${VERSION}.${iv.toString('base64url')}.${body.toString('base64url')}`;
  }

  /** @throws SecretBoxError when the value is malformed, of another key or context, or altered */
  open(sealed: string, context: string): string {
    const parts = typeof sealed === 'string' ? sealed.split('.') : [];
    if (parts.length !== 3 || parts[0] !== VERSION || !B64URL.test(parts[1]) || !B64URL.test(parts[2])) {
      throw new SecretBoxError(`not a sealed ${VERSION} value`);
    }
    const iv = Buffer.from(parts[1], 'base64url');
    const body = Buffer.from(parts[2], 'base64url');
    if (iv.length !== IV_BYTES || body.length < TAG_BYTES) throw new SecretBoxError(`not a sealed ${VERSION} value`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString(
        'utf8',
      );
    } catch {
      throw new SecretBoxError('does not open with this key (another key, moved to another job or name, or altered)');
    }
  }
}

/**
 * The 32-byte key a configured text stands for: 64 hex digits, or 32 bytes in base64 / base64url, as they are; any
 * other text of at least 32 characters is a passphrase, stretched with HKDF-SHA256. Errors name `source`, never the
 * value.
 */
export function parseSecretKey(text: string, source: string): Buffer {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(t)) {
    const raw = Buffer.from(t.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''), 'base64url');
    if (raw.length === KEY_BYTES) return raw;
  }
  if (t.length < MIN_PASSPHRASE || /[^\x20-\x7e]/.test(t)) {
    throw new Error(
      `${source}: expected 32 bytes as 64 hex digits or base64/base64url, or a passphrase of at least ` +
        `${MIN_PASSPHRASE} printable ASCII characters`,
    );
  }
  return Buffer.from(hkdfSync('sha256', t, 'gocron-secret-key', 'aes-256-gcm', KEY_BYTES));
}

const KEY_FORMAT = { pattern: /^[\x21-\x7e]{32,512}$/, describe: 'one secret key on one line' };

/**
 * The key for secrets at rest: `[auth] secret_key` when set, else the one in data/secret.key, generated there once
 * (32 random bytes, base64url, 0600). Safe when a dispatcher and an executor start together in one directory: the
 * file is linked into place, so both read the same key.
 */
export function loadSecretBox(
  configured: string,
  file = SECRET_KEY_FILE,
): { box: SecretBox; source: string; created: boolean } {
  if (configured.trim() !== '') {
    return {
      box: new SecretBox(parseSecretKey(configured, SECRET_KEY_SETTING)),
      source: SECRET_KEY_SETTING,
      created: false,
    };
  }
  let text = readSecretFile(file, KEY_FORMAT);
  let created = false;
  if (text === null) {
    ({ secret: text, created } = createSecretFile(file, KEY_FORMAT, () =>
      randomBytes(KEY_BYTES).toString('base64url'),
    ));
  }
  return { box: new SecretBox(parseSecretKey(text, file)), source: file, created };
}

/** For a process's start: a bad key stops it with one line naming the key, and exit code 2 (as a bad config does). */
export function loadSecretBoxOrExit(app: string, configured: string, file = SECRET_KEY_FILE): SecretBox {
  try {
    return loadSecretBox(configured, file).box;
  } catch (e) {
    process.stderr.write(`gocron ${app}: config: ${(e as Error).message}\n`);
    process.exit(2);
  }
}

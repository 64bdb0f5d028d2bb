import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/** API tokens: this prefix and 32 random bytes, base64url (256 bits: not guessable, so a SHA-256 is enough to store). */
export const TOKEN_PREFIX = 'gct_';

export function newToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/** A random value for a cookie (session, CSRF). */
export function newCookieValue(): string {
  return randomBytes(32).toString('base64url');
}

export function sha256(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** What a token list shows of a secret: enough to tell tokens apart, far too little to use one. */
export function tokenPrefix(token: string): string {
  return token.startsWith(TOKEN_PREFIX) ? token.slice(0, TOKEN_PREFIX.length + 8) : `${token.slice(0, 4)}…`;
}

/** Constant-time comparison of two strings of any length. */
export function sameSecret(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y);
}

// scrypt with N = 2^15, r = 8, p = 1: 32 MiB and about 0.1 s per hash here, on libuv's thread pool.
const N = 1 << 15;
const R = 8;
const P = 1;
const KEY_LEN = 32;
const MAX_MEM = 64 * 1024 * 1024;

function derive(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, KEY_LEN, { N: n, r, p, maxmem: MAX_MEM }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** `scrypt$N$r$p$salt$key`, salt and key in base64url. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, N, R, P);
  return ['scrypt', N, R, P, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** A hash of nothing anyone knows, verified when the user does not exist: a miss costs what a wrong password costs. */
let decoy: Promise<string> | undefined;

export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  const hash = stored ?? (await (decoy ??= hashPassword(newCookieValue())));
  const parts = hash.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [n, r, p] = parts.slice(1, 4).map(Number);
  if (![n, r, p].every(Number.isSafeInteger) || n > 1 << 20 || r > 32 || p > 16) return false;
  const expected = Buffer.from(parts[5], 'base64url');
  // Parameters scrypt refuses (N not a power of two, over MAX_MEM, negative) make a hash that matches nothing.
  const key = await derive(password, Buffer.from(parts[4], 'base64url'), n, r, p).catch(() => null);
  return stored !== null && key !== null && key.length === expected.length && timingSafeEqual(key, expected);
}

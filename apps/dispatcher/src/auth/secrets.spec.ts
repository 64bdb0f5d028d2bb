import { hashPassword, newCookieValue, newToken, sameSecret, sha256, tokenPrefix, verifyPassword } from './secrets';

describe('passwords', () => {
  let hash: string;

  beforeAll(async () => {
    hash = await hashPassword('correct horse battery staple');
  });

  it('stores scrypt$N$r$p$salt$key with a fresh salt each time', async () => {
    expect(hash).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    const again = await hashPassword('correct horse battery staple');
    expect(again).not.toBe(hash);
    expect(again.split('$')[4]).not.toBe(hash.split('$')[4]);
  });

  it('accepts the right password and refuses a wrong one', async () => {
    await expect(verifyPassword('correct horse battery staple', hash)).resolves.toBe(true);
    await expect(verifyPassword('correct horse battery staplE', hash)).resolves.toBe(false);
    await expect(verifyPassword('', hash)).resolves.toBe(false);
  });

  it('refuses a tampered hash: another key, another salt, cheaper parameters', async () => {
    const parts = hash.split('$');
    const flip = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    const tampered = [
      [...parts.slice(0, 5), flip(parts[5])],
      [...parts.slice(0, 4), flip(parts[4]), parts[5]],
      ['scrypt', '16384', ...parts.slice(2)],
      // A key cut short: compared by length first, never a partial match.
      [...parts.slice(0, 5), parts[5].slice(0, 20)],
    ];
    for (const t of tampered)
      await expect(verifyPassword('correct horse battery staple', t.join('$'))).resolves.toBe(false);
  });

  it('answers false, never throws, for a malformed hash', async () => {
    const salt = hash.split('$')[4];
    const key = hash.split('$')[5];
    const malformed = [
      '',
      'plaintext',
      'correct horse battery staple',
      'scrypt$32768$8$1$' + salt,
      `bcrypt$32768$8$1$${salt}$${key}`,
      `scrypt$abc$8$1$${salt}$${key}`,
      `scrypt$32768.5$8$1$${salt}$${key}`,
      // Not a power of two, negative, zero: parameters scrypt itself refuses.
      `scrypt$1000$8$1$${salt}$${key}`,
      `scrypt$-2$8$1$${salt}$${key}`,
      `scrypt$32768$-1$1$${salt}$${key}`,
      `${hash}$extra`,
    ];
    for (const m of malformed) await expect(verifyPassword('correct horse battery staple', m)).resolves.toBe(false);
  });

  it('refuses absurd cost parameters without computing them', async () => {
    const [, , , , salt, key] = hash.split('$');
    for (const [n, r, p] of [
      [2 ** 30, 8, 1],
      [2 ** 21, 8, 1],
      // Within the parse limits, over the memory limit: refused too, not a 1 GiB derivation.
      [2 ** 20, 8, 1],
      [32768, 64, 1],
      [32768, 8, 64],
    ]) {
      const started = Date.now();
      await expect(verifyPassword('x', ['scrypt', n, r, p, salt, key].join('$'))).resolves.toBe(false);
      expect(Date.now() - started).toBeLessThan(5000);
    }
  });

  it('answers false for a user with no password (null), after the same work as a wrong one', async () => {
    await expect(verifyPassword('correct horse battery staple', null)).resolves.toBe(false);
    await expect(verifyPassword('', null)).resolves.toBe(false);
  });
});

describe('API tokens', () => {
  it('are gct_ and 43 base64url characters: 32 random bytes', () => {
    const t = newToken();
    expect(t).toMatch(/^gct_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(t.slice(4), 'base64url')).toHaveLength(32);
  });

  it('are distinct, and their characters spread over the whole alphabet', () => {
    const tokens = Array.from({ length: 2000 }, newToken);
    expect(new Set(tokens).size).toBe(tokens.length);
    // 2000 * 43 characters from 64: every one of them shows up, none dominates (a constant or a counter would).
    const counts = new Map<string, number>();
    for (const t of tokens) for (const ch of t.slice(4)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    expect(counts.size).toBe(64);
    const expected = (2000 * 43) / 64;
    for (const n of counts.values()) expect(Math.abs(n - expected)).toBeLessThan(expected * 0.3);
  });

  it('show a prefix of gct_ and 8 characters; other (configured) tokens 4 characters and an ellipsis', () => {
    const t = newToken();
    expect(tokenPrefix(t)).toBe(t.slice(0, 12));
    expect(tokenPrefix(t)).toHaveLength(12);
    expect(tokenPrefix('my-own-admin-token-value')).toBe('my-o…');
  });

  it('cookie values are 43 base64url characters, distinct', () => {
    const values = Array.from({ length: 100 }, newCookieValue);
    for (const v of values) expect(v).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Set(values).size).toBe(100);
  });

  it('are stored as their SHA-256, hex', () => {
    expect(sha256('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('sameSecret', () => {
  it('is true for equal strings only, whatever their lengths', () => {
    expect(sameSecret('gct_abc', 'gct_abc')).toBe(true);
    expect(sameSecret('', '')).toBe(true);
    expect(sameSecret('gct_abc', 'gct_abd')).toBe(false);
    expect(sameSecret('gct_abc', 'gct_abcd')).toBe(false);
    expect(sameSecret('', 'x')).toBe(false);
    expect(sameSecret('é', 'e\u0301')).toBe(false);
  });
});

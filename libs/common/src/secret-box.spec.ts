import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSecretBox, parseSecretKey, SecretBox, SecretBoxError } from './secret-box';

const key = (fill: number) => Buffer.alloc(32, fill);

describe('SecretBox', () => {
  const box = new SecretBox(key(1));

  it('opens what it sealed, in the v1 text form, with a fresh IV each time', () => {
    const a = box.seal('hunter2-secret', 'job/1/env/A');
    const b = box.seal('hunter2-secret', 'job/1/env/A');
    expect(a).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('hunter2');
    expect(box.open(a, 'job/1/env/A')).toBe('hunter2-secret');
    expect(box.open(box.seal('', 'c'), 'c')).toBe('');
    expect(box.open(box.seal('ünï cødé ✓', 'c'), 'c')).toBe('ünï cødé ✓');
  });

  it('refuses a tampered value, another context (job or name) and another key', () => {
    const sealed = box.seal('value-1234', 'job/1/env/A');
    const [v, iv, body] = sealed.split('.');
    const flipped = Buffer.from(body, 'base64url');
    flipped[0] ^= 1;
    expect(() => box.open(`${v}.${iv}.${flipped.toString('base64url')}`, 'job/1/env/A')).toThrow(SecretBoxError);
    const tag = Buffer.from(body, 'base64url');
    tag[tag.length - 1] ^= 1;
    expect(() => box.open(`${v}.${iv}.${tag.toString('base64url')}`, 'job/1/env/A')).toThrow(SecretBoxError);
    expect(() => box.open(sealed, 'job/2/env/A')).toThrow(SecretBoxError);
    expect(() => box.open(sealed, 'job/1/env/B')).toThrow(SecretBoxError);
    expect(() => new SecretBox(key(2)).open(sealed, 'job/1/env/A')).toThrow(/does not open with this key/);
    for (const junk of ['', 'v1', 'v2.a.b', 'v1.!!.b', `v1.${iv}.AAAA`, 'plain text']) {
      expect(() => box.open(junk, 'c')).toThrow(SecretBoxError);
    }
  });

  it('has a fingerprint that tells keys apart and says nothing of the key', () => {
    expect(box.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(new SecretBox(key(1)).fingerprint).toBe(box.fingerprint);
    expect(new SecretBox(key(2)).fingerprint).not.toBe(box.fingerprint);
    expect(box.fingerprint).not.toContain(key(1).toString('hex').slice(0, 8));
  });
});

describe('parseSecretKey', () => {
  const raw = Buffer.from([...Array(32).keys()]);

  it('takes 32 bytes as hex, base64 or base64url, and stretches a long passphrase', () => {
    expect(parseSecretKey(raw.toString('hex'), 'k')).toEqual(raw);
    expect(parseSecretKey(raw.toString('base64'), 'k')).toEqual(raw);
    expect(parseSecretKey(raw.toString('base64url'), 'k')).toEqual(raw);
    const stretched = parseSecretKey('correct horse battery staple and more words', 'k');
    expect(stretched).toHaveLength(32);
    expect(parseSecretKey('correct horse battery staple and more words', 'k')).toEqual(stretched);
  });

  it('refuses a short or non-ASCII key, naming the source and not the value', () => {
    for (const bad of ['short-key-zzz', '', 'x'.repeat(31), `${'é'.repeat(40)}`]) {
      let message = '';
      try {
        parseSecretKey(bad, '[auth] secret_key');
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(/^\[auth\] secret_key: expected 32 bytes/);
      if (bad) expect(message).not.toContain(bad);
    }
  });
});

describe('loadSecretBox', () => {
  it('generates data/secret.key once (0600), and every later load reads the same key', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gocron-key-')), 'data', 'secret.key');
    const first = loadSecretBox('', file);
    expect(first.created).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
    const second = loadSecretBox('', file);
    expect(second.created).toBe(false);
    expect(second.box.fingerprint).toBe(first.box.fingerprint);
  });

  it('prefers the configured key, and names a bad key file without echoing it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gocron-key-'));
    const file = join(dir, 'secret.key');
    writeFileSync(file, 'not a key\n', { mode: 0o600 });
    expect(() => loadSecretBox('', file)).toThrow(`${file}: expected one secret key on one line`);
    const configured = loadSecretBox(Buffer.alloc(32, 9).toString('hex'), file);
    expect(configured.source).toMatch(/secret_key/);
    expect(configured.box.fingerprint).toBe(new SecretBox(Buffer.alloc(32, 9)).fingerprint);
  });
});

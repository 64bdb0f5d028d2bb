import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '@app/config';
import type { ExecutorConfig } from '@app/config';
import { executorTransport, isLoopbackHost } from './executor-transport';

const base = loadConfig(join(__dirname, '../../../../conf/conf.ini'), {}).executor;
const config = (over: Partial<ExecutorConfig>): ExecutorConfig => ({ ...base, ...over });
const problemsOf = (over: Partial<ExecutorConfig>): string[] => {
  try {
    executorTransport(config(over));
    return [];
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
};

describe('isLoopbackHost', () => {
  it.each(['127.0.0.1', '127.8.9.10', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST'])(
    '%s is loopback',
    (h) => expect(isLoopbackHost(h)).toBe(true),
  );
  it.each(['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', '::ffff:10.0.0.1', 'example.com', 'localhost.example.com', ''])(
    '%s is not',
    (h) => expect(isLoopbackHost(h)).toBe(false),
  );
});

describe('executorTransport', () => {
  const token = 'a-test-token-of-32-characters-xx';

  it('with a token: checks every call, on any host', () => {
    const t = executorTransport(config({ host: '0.0.0.0', token }));
    expect(t.interceptors).toHaveLength(1);
    expect(t.warnings).toEqual([]);
    expect(t.tls).toBe('off');
  });

  it('without a token on loopback: starts unchecked, warning that any local process can run jobs', () => {
    const t = executorTransport(config({ host: '127.0.0.1', token: '' }));
    expect(t.interceptors).toEqual([]);
    expect(t.warnings.join()).toMatch(/any local process can run jobs/);
  });

  it.each(['0.0.0.0', '10.1.2.3', '::'])('without a token on %s: refuses to start, naming [executor] token', (host) => {
    expect(problemsOf({ host, token: '' })).toEqual([expect.stringMatching(/^\[executor\] token: must be set/)]);
  });

  it('names the key and the path of a missing or non-PEM file, every one at once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gocron-tls-unit-'));
    writeFileSync(join(dir, 'junk.pem'), 'not a certificate\n');
    const problems = problemsOf({
      token,
      tlsCert: join(dir, 'junk.pem'),
      tlsKey: join(dir, 'missing.key'),
      tlsCa: join(dir, 'junk.pem'),
    });
    expect(problems).toEqual([
      `[executor] tls_key: can not read ${join(dir, 'missing.key')} (ENOENT)`,
      `[executor] tls_cert: ${join(dir, 'junk.pem')} is not a PEM certificate`,
      `[executor] tls_ca: ${join(dir, 'junk.pem')} is not a PEM certificate`,
    ]);
  });

  it('refuses tls_ca without a server certificate', () => {
    expect(problemsOf({ token, tlsCa: '/x/ca.pem' })).toEqual([
      expect.stringMatching(/^\[executor\] tls_ca: on an executor/),
      '[executor] tls_ca: can not read /x/ca.pem (ENOENT)',
    ]);
  });

  it('lists a token problem and a file problem together', () => {
    expect(problemsOf({ host: '0.0.0.0', token: '', tlsCert: '/x/c.pem', tlsKey: '/x/k.pem' })).toHaveLength(3);
  });

  it('never puts the token in a problem', () => {
    expect(problemsOf({ host: '0.0.0.0', token: '', tlsCa: '/x' }).join()).not.toContain(token);
  });
});

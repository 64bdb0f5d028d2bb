import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, configPathFromArgv, loadConfig } from './config.loader';

function writeIni(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'gocron-conf-')), 'conf.ini');
  writeFileSync(file, text);
  return file;
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('reads the shipped conf/conf.ini as the embedded default', () => {
    const c = loadConfig(join(__dirname, '../../../conf/conf.ini'), {});
    expect(c.database).toMatchObject({ type: 'sqlite', path: 'data/gocron.sqlite', port: 3306 });
    expect(c.redis.url).toBe('');
    expect(c.etcd).toEqual({ hosts: [], prefix: '/gocron', leaseTtlSeconds: 10 });
    expect(c.dispatcher.port).toBe(8080);
    expect(c.executor).toMatchObject({
      advertise: '127.0.0.1:50051',
      capacity: 16,
      staticTargets: ['127.0.0.1:50051'],
    });
    expect(c.executor.id).toMatch(/-\d+$/);
  });

  it('lets GOCRON_<SECTION>_<KEY> win over the file', () => {
    const file = writeIni('[database]\ntype = sqlite\n[dispatcher]\nport = 8080\n');
    const c = loadConfig(file, {
      GOCRON_DATABASE_TYPE: 'mysql',
      GOCRON_DISPATCHER_PORT: '8081',
      GOCRON_ETCD_HOSTS: 'http://127.0.0.1:2379, http://127.0.0.2:2379',
    });
    expect(c.database.type).toBe('mysql');
    expect(c.dispatcher.port).toBe(8081);
    expect(c.etcd.hosts).toEqual(['http://127.0.0.1:2379', 'http://127.0.0.2:2379']);
  });

  it('lists every bad key at once, one line each, naming the key', () => {
    const file = writeIni(
      '[database]\ntype = postgres\nport = abc\n[executor]\ncapacity = 0\nbogus = 1\n[etcd]\nhosts = 127.0.0.1:2379\n',
    );
    const problems = problemsOf(() => loadConfig(file, { GOCRON_REDIS_URL: 'localhost:6379' }));
    expect(problems).toEqual([
      '[executor] bogus: unknown key',
      "[database] type: 'postgres' must be one of sqlite, mysql",
      "[database] port: 'abc' is not an integer",
      '[executor] capacity: 0 is out of range 1..100000',
      "[redis] url: 'localhost:6379' must start with redis:// or rediss://",
      "[etcd] hosts: '127.0.0.1:2379' must look like http://host:port",
    ]);
  });

  it('reads [dispatcher] misfire_threshold and missed_grace in seconds (defaults 30 and 120), the environment winning', () => {
    for (const shipped of ['conf.ini', 'cluster.ini']) {
      const c = loadConfig(join(__dirname, '../../../conf', shipped), {});
      expect([c.dispatcher.misfireThresholdSeconds, c.dispatcher.missedGraceSeconds]).toEqual([30, 120]);
    }
    const empty = loadConfig(writeIni('[dispatcher]\nport = 8080\n'), {});
    expect([empty.dispatcher.misfireThresholdSeconds, empty.dispatcher.missedGraceSeconds]).toEqual([30, 120]);
    const file = writeIni('[dispatcher]\nmisfire_threshold = 10\nmissed_grace = 60\n');
    expect(loadConfig(file, {}).dispatcher).toMatchObject({ misfireThresholdSeconds: 10, missedGraceSeconds: 60 });
    const env = loadConfig(file, { GOCRON_DISPATCHER_MISFIRE_THRESHOLD: '5', GOCRON_DISPATCHER_MISSED_GRACE: '6' });
    expect(env.dispatcher).toMatchObject({ misfireThresholdSeconds: 5, missedGraceSeconds: 6 });
  });

  it('refuses a missed_grace that is not greater than misfire_threshold, naming both keys in one line', () => {
    expect(
      problemsOf(() => loadConfig(writeIni('[dispatcher]\nmisfire_threshold = 60\nmissed_grace = 60\n'), {})),
    ).toEqual(['[dispatcher] missed_grace: 60 must be greater than [dispatcher] misfire_threshold (60)']);
    // The default grace (120 s) against a threshold raised through the environment.
    expect(problemsOf(() => loadConfig(writeIni(''), { GOCRON_DISPATCHER_MISFIRE_THRESHOLD: '300' }))).toEqual([
      '[dispatcher] missed_grace: 120 must be greater than [dispatcher] misfire_threshold (300)',
    ]);
    expect(
      problemsOf(() => loadConfig(writeIni('[dispatcher]\nmisfire_threshold = 0\nmissed_grace = x\n'), {})),
    ).toEqual([
      '[dispatcher] misfire_threshold: 0 is out of range 1..86400',
      "[dispatcher] missed_grace: 'x' is not an integer",
    ]);
  });

  it('names a missing file', () => {
    expect(problemsOf(() => loadConfig('/nonexistent/conf.ini', {}))).toEqual([
      '--config: cannot read /nonexistent/conf.ini: ENOENT',
    ]);
  });
});

describe('configPathFromArgv', () => {
  it('takes --config FILE and --config=FILE, defaulting to conf/conf.ini', () => {
    expect(configPathFromArgv(['node', 'main.js'])).toBe('conf/conf.ini');
    expect(configPathFromArgv(['node', 'main.js', '--config', 'a.ini'])).toBe('a.ini');
    expect(configPathFromArgv(['node', 'main.js', '--config=b.ini'])).toBe('b.ini');
  });
});

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

  it('reads [auth] and the API edge keys of [dispatcher] with their defaults', () => {
    const defaults = {
      auth: {
        enabled: true,
        adminToken: '',
        secretKey: '',
        sessionTtlSeconds: 86400,
        publicMetrics: true,
        publicDocs: true,
      },
      edge: { allowedHosts: [], corsOrigins: [], rateLimit: 100, rateBurst: 1000, maxStreams: 16 },
    };
    for (const file of [writeIni(''), ...['conf.ini', 'cluster.ini'].map((f) => join(__dirname, '../../../conf', f))]) {
      const c = loadConfig(file, {});
      expect(c.auth).toEqual(defaults.auth);
      expect(c.dispatcher).toMatchObject(defaults.edge);
    }
    const file = writeIni(
      '[auth]\nenabled = false\nadmin_token = gct_0123456789abcdefXYZ\nsession_ttl = 3600\npublic_metrics = false\n' +
        'public_docs = false\n[dispatcher]\nallowed_hosts = Cron.Example.com, 10.0.0.5\n' +
        'cors_origins = https://ui.example.com, http://localhost:5173\nrate_limit = 5\nrate_burst = 50\nmax_streams = 2\n',
    );
    const c = loadConfig(file, {});
    expect(c.auth).toEqual({
      enabled: false,
      adminToken: 'gct_0123456789abcdefXYZ',
      secretKey: '',
      sessionTtlSeconds: 3600,
      publicMetrics: false,
      publicDocs: false,
    });
    expect(c.dispatcher).toMatchObject({
      allowedHosts: ['cron.example.com', '10.0.0.5'],
      corsOrigins: ['https://ui.example.com', 'http://localhost:5173'],
      rateLimit: 5,
      rateBurst: 50,
      maxStreams: 2,
    });
  });

  it('lets GOCRON_AUTH_* and GOCRON_DISPATCHER_* override [auth] and the edge keys', () => {
    const file = writeIni('[auth]\nenabled = true\npublic_metrics = true\n');
    const c = loadConfig(file, {
      GOCRON_AUTH_ENABLED: 'false',
      GOCRON_AUTH_PUBLIC_METRICS: 'false',
      GOCRON_AUTH_ADMIN_TOKEN: ' from-the-environment-0123 ',
      GOCRON_DISPATCHER_ALLOWED_HOSTS: '*',
      GOCRON_DISPATCHER_MAX_STREAMS: '4',
    });
    expect(c.auth).toMatchObject({ enabled: false, publicMetrics: false, adminToken: 'from-the-environment-0123' });
    expect(c.dispatcher).toMatchObject({ allowedHosts: ['*'], maxStreams: 4 });
  });

  it('names the key of a boolean that is neither true nor false', () => {
    const file = writeIni('[auth]\nenabled = yes\npublic_docs = 0\n');
    expect(problemsOf(() => loadConfig(file, { GOCRON_AUTH_PUBLIC_METRICS: 'False' }))).toEqual([
      "[auth] enabled: 'yes' must be true or false",
      "[auth] public_metrics: 'False' must be true or false",
      "[auth] public_docs: '0' must be true or false",
    ]);
  });

  it('refuses an admin_token that is short or holds a space, without ever echoing it', () => {
    // Each holds Zq7x, which no message of the loader contains.
    const bad = ['Zq7x-short-15c!', 'Zq7x with spaces', 'Zq7x\tTab-inside-a-token', 'Zq7xé-not-printable-ascii'];
    for (const token of bad) {
      for (const [file, env] of [
        [writeIni(`[auth]\nadmin_token = ${token}\n`), {}],
        [writeIni(''), { GOCRON_AUTH_ADMIN_TOKEN: token }],
      ] as const) {
        let error: unknown;
        try {
          loadConfig(file, env);
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).problems).toEqual([
          '[auth] admin_token: must be 16 to 512 printable characters without spaces',
        ]);
        expect((error as ConfigError).message).not.toContain('Zq7x');
      }
    }
    // 16 printable characters are enough; 513 are too many.
    expect(loadConfig(writeIni(''), { GOCRON_AUTH_ADMIN_TOKEN: 'exactly-16-chars' }).auth.adminToken).toBe(
      'exactly-16-chars',
    );
    expect(problemsOf(() => loadConfig(writeIni(''), { GOCRON_AUTH_ADMIN_TOKEN: 'x'.repeat(513) }))).toEqual([
      '[auth] admin_token: must be 16 to 512 printable characters without spaces',
    ]);
  });

  it('refuses a CORS origin that is not scheme://host[:port] or *', () => {
    const env = { GOCRON_DISPATCHER_CORS_ORIGINS: 'https://ok.example.com, *, ui.example.com, https://a.example.com/' };
    expect(problemsOf(() => loadConfig(writeIni(''), env))).toEqual([
      "[dispatcher] cors_origins: 'ui.example.com' must look like https://host[:port] or be *",
      "[dispatcher] cors_origins: 'https://a.example.com/' must look like https://host[:port] or be *",
    ]);
    const ok = loadConfig(writeIni(''), { GOCRON_DISPATCHER_CORS_ORIGINS: 'http://localhost:5173' });
    expect(ok.dispatcher.corsOrigins).toEqual(['http://localhost:5173']);
  });

  it('bounds rate_limit, rate_burst, max_streams and session_ttl', () => {
    const file = writeIni(
      '[dispatcher]\nrate_limit = 0\nrate_burst = 10000001\nmax_streams = 10001\n[auth]\nsession_ttl = 59\n',
    );
    expect(problemsOf(() => loadConfig(file, {}))).toEqual([
      '[dispatcher] rate_limit: 0 is out of range 1..1000000',
      '[dispatcher] rate_burst: 10000001 is out of range 1..10000000',
      '[dispatcher] max_streams: 10001 is out of range 1..10000',
      '[auth] session_ttl: 59 is out of range 60..31536000',
    ]);
    expect(problemsOf(() => loadConfig(writeIni(''), { GOCRON_DISPATCHER_RATE_LIMIT: '1.5' }))).toEqual([
      "[dispatcher] rate_limit: '1.5' is not an integer",
    ]);
    const edges = loadConfig(
      writeIni('[dispatcher]\nrate_limit = 1000000\nrate_burst = 1\nmax_streams = 1\n[auth]\nsession_ttl = 60\n'),
      {},
    );
    expect(edges.dispatcher).toMatchObject({ rateLimit: 1_000_000, rateBurst: 1, maxStreams: 1 });
    expect(edges.auth.sessionTtlSeconds).toBe(60);
  });

  it('reads the executor security keys with their defaults, the environment winning', () => {
    const c = loadConfig(join(__dirname, '../../../conf/conf.ini'), {});
    expect(c.executor).toMatchObject({
      token: '',
      tlsCert: '',
      tlsKey: '',
      tlsCa: '',
      runAs: '',
      workdir: '',
      allowedCommands: [],
      httpAllow: [],
      httpDeny: ['0.0.0.0/8', '169.254.0.0/16', 'fe80::/10', 'fd00:ec2::254/128'],
      metricsPort: null,
    });
    const file = writeIni('[executor]\nrun_as = nobody\n');
    const o = loadConfig(file, {
      GOCRON_EXECUTOR_TOKEN: 'abcdefghijklmnopqrstuvwxyz',
      GOCRON_EXECUTOR_ALLOWED_COMMANDS: '/usr/bin/*, backup *',
      GOCRON_EXECUTOR_HTTP_ALLOW: '10.1.2.3',
      GOCRON_EXECUTOR_HTTP_DENY: '',
      GOCRON_EXECUTOR_METRICS_PORT: '9464',
    });
    expect(o.executor).toMatchObject({
      token: 'abcdefghijklmnopqrstuvwxyz',
      runAs: 'nobody',
      allowedCommands: ['/usr/bin/*', 'backup *'],
      httpAllow: ['10.1.2.3'],
      httpDeny: [],
      metricsPort: 9464,
    });
  });

  it('names each bad executor security key without echoing the token', () => {
    const file = writeIni(
      '[executor]\ntoken = short secret\ntls_cert = a.pem\nrun_as = "no body"\nhttp_allow = 10.0.0.0/33\nhttp_deny = example.com, ::1/129\n',
    );
    const problems = problemsOf(() => loadConfig(file, {}));
    expect(problems).toEqual([
      '[executor] token: must be 16 to 512 printable characters without spaces',
      '[executor] tls_cert and tls_key: set both or neither',
      "[executor] run_as: 'no body' is not a user name",
      "[executor] http_allow: '10.0.0.0/33' must be an address or CIDR (10.0.0.0/8, fd00::/8)",
      "[executor] http_deny: 'example.com' must be an address or CIDR (10.0.0.0/8, fd00::/8)",
      "[executor] http_deny: '::1/129' must be an address or CIDR (10.0.0.0/8, fd00::/8)",
    ]);
    expect(problems.join('\n')).not.toContain('short secret');
  });

  it('reads [rabbitmq]: off by default, * when only a url is set, bad values named without the password', () => {
    expect(loadConfig(writeIni(''), {}).rabbitmq).toEqual({ url: '', groups: [], prefix: 'gocron' });
    expect(loadConfig(writeIni('[rabbitmq]\nurl = amqp://u:p@127.0.0.1:5672\n'), {}).rabbitmq.groups).toEqual(['*']);
    const problems = problemsOf(() =>
      loadConfig(writeIni('[rabbitmq]\nurl = http://u:TOPSECRET@h\ngroups = ok, bad group\nprefix = a b\n'), {}),
    );
    expect(problems).toEqual([
      '[rabbitmq] url: must look like amqp://user:pass@host:5672 or amqps://host:5671',
      "[rabbitmq] groups: 'bad group' is not a group name",
      "[rabbitmq] prefix: 'a b' must be letters, digits, '_', '.' or '-'",
    ]);
    expect(problems.join('\n')).not.toContain('TOPSECRET');
    expect(problemsOf(() => loadConfig(writeIni('[rabbitmq]\ngroups = g\n'), {}))).toEqual([
      '[rabbitmq] groups: set [rabbitmq] url too',
    ]);
  });

  it('reads [notify] with its defaults and refuses what can not be delivered, without echoing URLs', () => {
    const c = loadConfig(writeIni(''), {});
    expect(c.notify).toEqual({
      on: ['failed', 'timed_out', 'lost', 'missed', 'recovered'],
      webhookUrl: '',
      webhookSecret: '',
      slackUrl: '',
      smtpUrl: '',
      mailFrom: '',
      mailTo: [],
      minIntervalSeconds: 300,
    });
    const problems = problemsOf(() =>
      loadConfig(
        writeIni(
          '[notify]\non = failed,exploded\nslack_url = hooks.slack.com/services/T0/B0/SECRETPART\nsmtp_url = smtp://mail:25\nmail_to = nobody\n',
        ),
        {},
      ),
    );
    expect(problems).toEqual([
      "[notify] on: 'exploded' is not one of failed, timed_out, lost, missed, recovered, succeeded",
      '[notify] slack_url: must be an http:// or https:// URL',
      '[notify] smtp_url: set mail_from and mail_to too',
      "[notify] mail_from/mail_to: 'nobody' is not an address",
    ]);
    expect(problems.join('\n')).not.toContain('SECRETPART');
  });

  it('reads [retention] with its defaults (0 turns a limit off) and bounds it', () => {
    const c = loadConfig(join(__dirname, '../../../conf/conf.ini'), {});
    expect(c.retention).toEqual({ maxRunsPerJob: 1000, maxAgeDays: 30, keepOutputRuns: 100, intervalSeconds: 60 });
    const o = loadConfig(writeIni('[retention]\nmax_age_days = 0\n'), { GOCRON_RETENTION_INTERVAL: '5' });
    expect(o.retention).toMatchObject({ maxAgeDays: 0, intervalSeconds: 5 });
    expect(problemsOf(() => loadConfig(writeIni('[retention]\ninterval = 0\nmax_runs_per_job = -1\n'), {}))).toEqual([
      '[retention] max_runs_per_job: -1 is out of range 0..100000000',
      '[retention] interval: 0 is out of range 1..86400',
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

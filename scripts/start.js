#!/usr/bin/env node
// `npm start`: one dispatcher and one executor on the embedded defaults (SQLite, in-process lock, static
// discovery). Builds first when dist/ is missing or older than the sources. Ctrl-C stops both within 10 s.
// Once the dispatcher answers, prints where to log in and where the admin token is (never the token itself).
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { existsSync, statSync, readdirSync, readFileSync, writeFileSync, mkdirSync } = require('node:fs');
const { join, resolve } = require('node:path');
const http = require('node:http');
const { parse: parseIni } = require('ini');

const root = join(__dirname, '..');
const args = process.argv.slice(2); // e.g. --config conf/other.ini, passed to both apps

/** The config file the apps read: `--config FILE` / `--config=FILE`, else conf/conf.ini (from the repo root). */
function configPath() {
  const i = args.findIndex((a) => a === '--config' || a.startsWith('--config='));
  if (i === -1) return join(root, 'conf/conf.ini');
  const file = args[i].includes('=') ? args[i].slice(args[i].indexOf('=') + 1) : args[i + 1];
  return resolve(root, file ?? '');
}

/** The file's sections, or {} when it can not be read (the apps then stop with the reason themselves). */
function readConfig() {
  try {
    return parseIni(readFileSync(configPath(), 'utf8'));
  } catch {
    return {};
  }
}

/** GOCRON_<SECTION>_<KEY> wins over the file, as in the apps; '' when neither sets it. */
function setting(config, section, key) {
  const env = process.env[`GOCRON_${section}_${key}`.toUpperCase()];
  if (env !== undefined) return env.trim();
  const value = config[section]?.[key];
  return value === undefined || value === null ? '' : String(value).trim();
}

/**
 * data/executor-token: 32 random bytes, base64url, created once (flag 'wx', mode 0600) and never rewritten, so every
 * start hands the same secret to both apps (GOCRON_EXECUTOR_TOKEN): the executor refuses every gRPC call without it.
 */
function executorToken() {
  const file = join(root, 'data/executor-token');
  mkdirSync(join(root, 'data'), { recursive: true });
  try {
    writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { flag: 'wx', mode: 0o600 });
  } catch (e) {
    if (e.code !== 'EEXIST') throw e;
  }
  const token = readFileSync(file, 'utf8').trim();
  if (!token) {
    process.stderr.write(`gocron: ${file} is empty; delete it and start again\n`);
    process.exit(1);
  }
  return token;
}

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (/\.(ts|tsx|css|html|proto)$/.test(entry.name)) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function needsBuild() {
  const mains = [
    ...['dispatcher', 'executor'].map((a) => join(root, 'dist/apps', a, 'main.js')),
    join(root, 'dist/dashboard/index.html'),
  ];
  if (!mains.every(existsSync)) return true;
  const built = Math.min(...mains.map((m) => statSync(m).mtimeMs));
  return ['apps', 'libs', 'proto'].some((d) => newestMtime(join(root, d)) > built);
}

if (needsBuild()) {
  process.stdout.write('gocron: building (npm run build)…\n');
  const r = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const children = [];
let stopping = false;

function start(app, extraEnv) {
  const child = spawn(process.execPath, [join(root, 'dist/apps', app, 'main.js'), ...args], {
    cwd: root,
    env: { ...process.env, ...extraEnv },
    stdio: 'inherit',
  });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      process.stderr.write(`gocron: ${app} exited (${signal ?? code}); stopping\n`);
      stop(code || 1);
    } else if (children.every((c) => c.exitCode !== null || c.signalCode !== null)) {
      process.exit(0);
    }
  });
  children.push(child);
}

function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  setTimeout(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    process.exit(code);
  }, 9000).unref();
}

process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

const config = readConfig();
const shared = { GOCRON_EXECUTOR_TOKEN: process.env.GOCRON_EXECUTOR_TOKEN || executorToken() };

// The executor drains for at most 5 s here, so Ctrl-C ends both within 10 s.
start('executor', { ...shared, GOCRON_EXECUTOR_DRAIN_TIMEOUT: process.env.GOCRON_EXECUTOR_DRAIN_TIMEOUT ?? '5' });
start('dispatcher', shared);

/** How to log in, naming where the admin token is: the one configured, or the file the first start wrote. */
function loginHint(base) {
  if (setting(config, 'auth', 'enabled').toLowerCase() === 'false') {
    return 'Auth is off ([auth] enabled = false): no login needed.\n';
  }
  const where = setting(config, 'auth', 'admin_token')
    ? 'the admin token you configured (GOCRON_AUTH_ADMIN_TOKEN or [auth] admin_token)'
    : 'the admin token in data/admin-token (cat data/admin-token)';
  return `Log in at ${base}/ with ${where}.\nAPI calls send it as: Authorization: Bearer <token>\n`;
}

const host = setting(config, 'dispatcher', 'host') || '127.0.0.1';
const port = setting(config, 'dispatcher', 'port') || '8080';
const base = `http://${host}:${port}`;
const deadline = Date.now() + 60_000;
(function poll() {
  const req = http.get(`${base}/api/health`, (res) => {
    res.resume();
    if (res.statusCode === 200) {
      process.stdout.write(
        `\ngocron is running:\n  API        ${base}/api\n  Swagger    ${base}/api/docs\n  Dashboard  ${base}/\n` +
          loginHint(base) +
          'Press Ctrl-C to stop.\n\n',
      );
    } else retry();
  });
  req.on('error', retry);
  function retry() {
    if (!stopping && Date.now() < deadline) setTimeout(poll, 300);
  }
})();

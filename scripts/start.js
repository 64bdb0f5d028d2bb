#!/usr/bin/env node
// `npm start`: one dispatcher and one executor on the embedded defaults (SQLite, in-process lock, static
// discovery). Builds first when dist/ is missing or older than the sources. Ctrl-C stops both within 10 s.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const { existsSync, statSync, readdirSync } = require('node:fs');
const { join } = require('node:path');
const http = require('node:http');

const root = join(__dirname, '..');
const args = process.argv.slice(2); // e.g. --config conf/other.ini, passed to both apps

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

// The executor drains for at most 5 s here, so Ctrl-C ends both within 10 s.
start('executor', { GOCRON_EXECUTOR_DRAIN_TIMEOUT: process.env.GOCRON_EXECUTOR_DRAIN_TIMEOUT ?? '5' });
start('dispatcher', {});

const host = process.env.GOCRON_DISPATCHER_HOST || '127.0.0.1';
const port = process.env.GOCRON_DISPATCHER_PORT || '8080';
const base = `http://${host}:${port}`;
const deadline = Date.now() + 60_000;
(function poll() {
  const req = http.get(`${base}/api/health`, (res) => {
    res.resume();
    if (res.statusCode === 200) {
      process.stdout.write(
        `\ngocron is running:\n  API        ${base}/api\n  Swagger    ${base}/api/docs\n  Dashboard  ${base}/\n` +
          'Press Ctrl-C to stop.\n\n',
      );
    } else retry();
  });
  req.on('error', retry);
  function retry() {
    if (!stopping && Date.now() < deadline) setTimeout(poll, 300);
  }
})();

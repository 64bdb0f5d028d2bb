#!/usr/bin/env node
// Top self-time functions of a V8 .cpuprofile (from `node --cpu-prof`), and self time grouped by package/file.
//   node bench/profile-summary.js FILE.cpuprofile [top=25]
'use strict';
const fs = require('node:fs');

function summarise(file, top = 25) {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const dt = prof.timeDeltas;
  for (let i = 0; i < prof.samples.length; i++) {
    const id = prof.samples[i];
    self.set(id, (self.get(id) || 0) + (dt[i] || 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fn = new Map();
  const group = new Map();
  for (const [id, us] of self) {
    const cf = byId.get(id).callFrame;
    const where = cf.url ? cf.url.replace(/^file:\/\//, '') : '';
    const key = `${cf.functionName || '(anonymous)'}  ${where.split('/').slice(-2).join('/')}:${cf.lineNumber + 1}`;
    fn.set(key, (fn.get(key) || 0) + us);
    let g = '(native/V8)';
    if (cf.functionName === '(idle)' || cf.functionName === '(program)' || cf.functionName === '(garbage collector)')
      g = cf.functionName;
    else if (where.includes('node_modules/'))
      g =
        'npm:' +
        where
          .split('node_modules/')
          .pop()
          .split('/')
          .slice(0, where.split('node_modules/').pop().startsWith('@') ? 2 : 1)
          .join('/');
    else if (where.startsWith('node:')) g = where;
    else if (where.includes('/dist/apps/')) g = 'gocron bundle ' + where.split('/dist/apps/').pop();
    else if (where) g = where;
    group.set(g, (group.get(g) || 0) + us);
  }
  const fmt = (m) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(
        ([k, us]) => `${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`,
      )
      .join('\n');
  return `profile ${file}: ${(total / 1e6).toFixed(1)} s sampled\n\nself time by function:\n${fmt(fn)}\n\nself time by package/file:\n${fmt(group)}\n`;
}
module.exports = { summarise };
if (require.main === module) process.stdout.write(summarise(process.argv[2], Number(process.argv[3] || 25)));

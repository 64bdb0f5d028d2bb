// The JSON-lines record file of the bench's spawning loops (bench/bullmq-worker.js, bench/floor.js): one array per
// line, buffered and appended every 250 ms and at flush(), which each calls before it exits.
'use strict';
const fs = require('node:fs');

/** A buffer for `file` (no file: records are dropped). */
function recordFile(file) {
  let pending = [];
  const flush = () => {
    if (!pending.length || !file) return;
    const lines = pending.join('\n') + '\n';
    pending = [];
    fs.appendFileSync(file, lines);
  };
  if (file) setInterval(flush, 250).unref();
  return { push: (record) => pending.push(JSON.stringify(record)), flush };
}

module.exports = { recordFile };

// Preloaded (node -r bench/probe.js) into a measured process: writes process.memoryUsage() to
// $BENCH_PROBE_FILE every 500 ms (and after a full GC on SIGUSR2), so the benchmark can report heap without touching the app's code.
'use strict';
const file = process.env.BENCH_PROBE_FILE;
if (file) {
  const { writeFileSync } = require('node:fs');
  const write = (extra = {}) => {
    try {
      writeFileSync(file, JSON.stringify({ t: Date.now(), ...process.memoryUsage(), ...extra }));
    } catch {
      /* ignore */
    }
  };
  setInterval(write, 500).unref();
  // SIGUSR2: a full GC (when started with --expose-gc), then the retained figures at once
  process.on('SIGUSR2', () => {
    if (typeof global.gc === 'function') {
      global.gc();
      write({ gc: true });
    } else write({ gc: false });
  });
}

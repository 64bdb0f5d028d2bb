#!/usr/bin/env node
// HTTP stub for the benchmarks: answers 200 at once and records the receive time of every request.
// gocron requests carry X-Gocron-Job-Id / X-Gocron-Scheduled-At; BullMQ requests carry ?j=<scheduler>&s=<ms>.
// GET /__dump returns (and forgets) the records: [[receivedMs, key, scheduledMs], ...].
'use strict';
const http = require('node:http');

let recs = [];
const server = http.createServer((req, res) => {
  const t = Date.now();
  if (req.url.startsWith('/__dump')) {
    const body = JSON.stringify(recs);
    recs = [];
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
    return;
  }
  const jobId = req.headers['x-gocron-job-id'];
  if (jobId) {
    recs.push([t, 'g' + jobId, Date.parse(req.headers['x-gocron-scheduled-at'])]);
  } else {
    const u = new URL(req.url, 'http://x');
    recs.push([t, 'b' + u.searchParams.get('j'), Number(u.searchParams.get('s'))]);
  }
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('ok');
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.STUB_PORT || 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));

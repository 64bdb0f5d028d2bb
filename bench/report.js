// Writes docs/benchmarks.md and docs/benchmarks.svg from the results of bench/run.js.
//   node bench/report.js [bench/results/latest.json] [OUT_DIR]   (re-renders without re-running; OUT_DIR: docs/)
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const LABEL = {
  embedded: 'gocron-ts embedded (SQLite)',
  cluster: 'gocron-ts cluster (MariaDB+Redis+etcd)',
  bullmq: 'BullMQ',
  floor: 'floor (a bare loop, same tasks at the same instants)',
};
const f = (x, unit = '') => (x == null ? '–' : `${x}${unit}`);
const ratio = (a, b) => (a == null || b == null || !b ? '–' : `${Math.round((a / b) * 100) / 100}×`);
/** The floor's figure for a ratio: '1×' on the floor's own row, `–` when it was not measured. */
const vsFloor = (r, x, floorX) => (r.system === 'floor' ? '1×' : ratio(x, floorX));
/** The lag sources of a W1 / W2 result: the stub for BullMQ and the floor, the ledger too for gocron-ts. */
const stubSources = (r) =>
  r.ledger
    ? [
        ['ledger', r.ledger],
        ['stub', r.stub],
      ]
    : [['stub', r.stub]];
const load = (l) => (l ? l.map((x) => x.toFixed(2)).join(' / ') : '–');

/** A Markdown table's header row (`| a | b |`) and its separator, one `---` per column. */
const tableHead = (header) => [header, `|${' --- |'.repeat(header.split('|').length - 2)}`];

function procCell(res) {
  return res.procs
    .map(
      (p) =>
        `${p.name.replace(/-w\d-.*$|-\d+$/, '')}: ${f(p.cpuPct, '%')} CPU, ${f(p.rssPeakMB, ' MB')}${p.died ? ` **${p.died}**` : ''}`,
    )
    .join('<br>');
}

/** [jobs, the results with that many jobs] in the order the sizes first appear. */
const byJobs = (results) =>
  [...new Set(results.map((r) => r.jobs))].map((n) => [n, results.filter((r) => r.jobs === n)]);

function w1Tables(w1) {
  const out = [];
  for (const [n, rows] of byJobs(w1)) {
    const bull = rows.find((r) => r.system === 'bullmq');
    const floor = rows.find((r) => r.system === 'floor');
    out.push(`### W1 steady: ${n} jobs every second, ${rows[0].seconds} s window\n`);
    out.push(
      ...tableHead(
        '| system | lag source | p50 ms | p99 ms | max ms | runs/s (expected) | missed | duplicated | p99 vs BullMQ | p99 vs floor | processes: CPU, peak RSS | machine busy, load 1m |',
      ),
    );
    for (const r of rows) {
      for (const [src, s] of stubSources(r)) {
        out.push(
          `| ${LABEL[r.system]} | ${src} | ${f(s.lag.p50)} | ${f(s.lag.p99)} | ${f(s.lag.max)} | ${f(s.runsPerSec)} (${s.expectedPerSec}) | ${s.missed} | ${s.duplicated}${r.ledger && src === 'ledger' ? ` (rows ${r.ledger.duplicatedRows})` : ''} | ${r.system === 'bullmq' ? '1×' : ratio(s.lag.p99, bull && bull.stub.lag.p99)} | ${vsFloor(r, s.lag.p99, floor && floor.stub.lag.p99)} | ${procCell(r.resources)} | ${f(r.resources.machineBusyPct, '%')}, ${r.resources.load[1][0].toFixed(2)} |`,
        );
      }
    }
    for (const r of rows) {
      if (r.ledger && r.ledger.claimLag)
        out.push(
          `- ${LABEL[r.system]}: tick → run row inserted (dispatcher: timer, mailbox, lock, claim) p50 ${r.ledger.claimLag.p50} / p99 ${r.ledger.claimLag.p99} ms; row inserted → executor start (offer, gRPC, compare-and-set) p50 ${r.ledger.offerToStart.p50} / p99 ${r.ledger.offerToStart.p99} ms; run statuses ${JSON.stringify(r.statuses)}`,
        );
    }
    out.push('');
  }
  return out.join('\n');
}

function w2Table(w2) {
  const out = [`### W2 burst: ${w2[0].jobs} jobs due the same second\n`];
  out.push(
    ...tableHead(
      '| system | lag source | started | time until all started ms | p50 ms | p99 ms | max ms | p99 vs BullMQ | p99 vs floor | processes: CPU, peak RSS | machine busy |',
    ),
  );
  const bull = w2.find((r) => r.system === 'bullmq');
  const floor = w2.find((r) => r.system === 'floor');
  for (const r of w2) {
    for (const [src, st] of stubSources(r))
      out.push(
        `| ${LABEL[r.system]} | ${src} | ${st.started} of ${st.jobs} | ${f(st.allStartedAfterMs, '')} | ${f(st.lag.p50)} | ${f(st.lag.p99)} | ${f(st.lag.max)} | ${r.system === 'bullmq' ? '1×' : ratio(st.lag.p99, bull && bull.stub.lag.p99)} | ${vsFloor(r, st.lag.p99, floor && floor.stub.lag.p99)} | ${procCell(r.resources)} | ${f(r.resources.machineBusyPct, '%')} |`,
      );
    if (r.ledger && r.ledger.claimLag) out.push('');
  }
  for (const r of w2)
    if (r.ledger && r.ledger.claimLag)
      out.push(
        `- ${LABEL[r.system]}: tick → run row inserted p50 ${r.ledger.claimLag.p50} / p99 ${r.ledger.claimLag.p99} / max ${r.ledger.claimLag.max} ms`,
      );
  out.push('');
  return out.filter((l, i, a) => !(l === '' && a[i + 1] && a[i + 1].startsWith('|'))).join('\n');
}

function w3Tables(w3) {
  const out = [];
  const g = w3.filter((r) => r.system !== 'bullmq');
  if (g.length) {
    out.push('### W3 scale: gocron-ts dispatcher with N enabled hourly jobs\n');
    out.push(
      ...tableHead(
        '| system | jobs | insert rows ms | spawn → "scheduling N" log ms | spawn → /api/health 200 ms | loaded in ms (own log) | RSS / heap used MB, settled | RSS MB after full GC | heap used MB after full GC | RSS KB/job | heap KB/job | idle CPU (10 s) | PATCH ms | nextRunAt in | PATCH → first run started ms | its lag ms |',
      ),
    );
    for (const r of g) {
      const d = r.idle.procs.find((p) => p.name.startsWith('dispatcher'));
      out.push(
        `| ${LABEL[r.system]} | ${r.jobs} | ${r.insertMs} | ${r.coldStart.schedulingLogMs} | ${r.coldStart.healthMs} | ${f(r.coldStart.loadedInMs)} | ${r.beforeGc ? `${r.beforeGc.rssMB} / ${f(r.beforeGc.heapUsedMB)}` : '–'} | ${r.rssMB} | ${f(r.heapUsedMB)} | ${r.rssPerJobKB} | ${f(r.heapPerJobKB)} | ${f(d && d.cpuPct, '%')} | ${r.patch.patchMs} | ${f(r.patch.nextRunInMs, ' ms')} | ${f(r.patch.firstRunStartedAfterMs)} | ${f(r.patch.firstRunLagMs)} |`,
      );
    }
    const marg = (sys) => {
      const rs = g.filter((r) => r.system === sys).sort((a, b) => a.jobs - b.jobs);
      if (rs.length < 2) return null;
      const [a, b] = [rs[0], rs[rs.length - 1]];
      return {
        rss: Math.round((((b.rssMB - a.rssMB) * 1024) / (b.jobs - a.jobs)) * 100) / 100,
        heap:
          a.heapUsedMB != null
            ? Math.round((((b.heapUsedMB - a.heapUsedMB) * 1024) / (b.jobs - a.jobs)) * 100) / 100
            : null,
      };
    };
    out.push('');
    for (const sys of ['embedded', 'cluster']) {
      const m = marg(sys);
      if (m)
        out.push(`- ${LABEL[sys]}: marginal cost between the sizes: ${m.rss} KB RSS and ${f(m.heap)} KB heap per job.`);
    }
    out.push('');
  }
  const b = w3.filter((r) => r.system === 'bullmq');
  if (b.length) {
    out.push('### W3 scale: BullMQ with N hourly job schedulers (for comparison; state lives in Redis)\n');
    out.push(
      ...tableHead(
        '| jobs | upsertJobScheduler × N ms | Redis used_memory delta MB | bytes/job | worker spawn → ready ms | worker RSS MB | worker idle CPU | Redis idle CPU | upsert ms | upsert → first run started ms | its lag ms |',
      ),
    );
    for (const r of b) {
      const w = r.idle.procs.find((p) => p.name.startsWith('bullmq'));
      const rd = r.idle.procs.find((p) => p.name.startsWith('redis'));
      out.push(
        `| ${r.jobs} | ${r.createMs} | ${r.redisDeltaMB} | ${r.redisBytesPerJob} | ${r.workerColdStartMs} | ${r.workerRssMB} | ${f(w && w.cpuPct, '%')} | ${f(rd && rd.cpuPct, '%')} | ${r.patch.patchMs} | ${f(r.patch.firstRunStartedAfterMs)} | ${f(r.patch.firstRunLagMs)} |`,
      );
    }
    out.push('');
  }
  return out.join('\n');
}

function w4Tables(w4) {
  const out = [];
  for (const [n, rows] of byJobs(w4)) {
    const bull = rows.find((r) => r.system === 'bullmq');
    out.push(`### W4 shell: ${n} jobs every second running \`true\`, ${rows[0].seconds} s window\n`);
    out.push(
      ...tableHead(
        '| system | command | lag source | p50 ms | p99 ms | max ms | runs/s (expected) | missed | duplicated | p99 vs BullMQ | p99 vs floor | spawn cost: CPU ms per run (executor / BullMQ worker / floor) | reaped children CPU ms per run | run duration p50 / p99 ms | processes: CPU, peak RSS | machine busy, load 1m |',
      ),
    );
    for (const r of rows) {
      const floor = rows.find((x) => x.system === 'floor' && x.command === r.command);
      const srcs = r.ledger ? [['ledger', r.ledger]] : [[r.system === 'floor' ? 'loop' : 'worker', r.worker]];
      if (r.commandLag) srcs.push(['command (its `date` output)', { lag: r.commandLag }]);
      for (const [src, s] of srcs) {
        const main = s === r.ledger || s === r.worker;
        const floorS = floor && (main ? floor.worker : { lag: floor.commandLag || {} });
        out.push(
          `| ${LABEL[r.system]} | \`${r.command}\` | ${src} | ${f(s.lag.p50)} | ${f(s.lag.p99)} | ${f(s.lag.max)} | ${main ? `${f(s.runsPerSec)} (${s.expectedPerSec})` : '–'} | ${main ? s.missed : '–'} | ${main ? `${s.duplicated}${s.duplicatedRows != null ? ` (rows ${s.duplicatedRows})` : ''}` : '–'} | ${r.system === 'bullmq' ? '1×' : ratio(s.lag.p99, bull && bull.worker.lag.p99)} | ${vsFloor(r, s.lag.p99, floorS && floorS.lag.p99)} | ${main ? `${f(r.spawn.cpuMsPerRun)} (${r.spawn.runs} runs started in the window)` : '–'} | ${main ? f(r.spawn.childCpuMsPerRun) : '–'} | ${main ? `${f(r.duration.p50)} / ${f(r.duration.p99)}` : '–'} | ${main ? `${procCell(r.resources)} | ${f(r.resources.machineBusyPct, '%')}, ${r.resources.load[1][0].toFixed(2)}` : '(as above) | '} |`,
        );
      }
    }
    out.push('');
    for (const r of rows) {
      if (r.system === 'bullmq') {
        out.push(
          `- ${LABEL[r.system]}: exit codes ${JSON.stringify(r.exitCodes)}; upsertJobScheduler × ${r.jobs} took ${r.createMs} ms`,
        );
        continue;
      }
      if (r.system === 'floor') {
        out.push(
          `- ${LABEL[r.system]} \`${r.command}\`: exit codes ${JSON.stringify(r.exitCodes)}${r.startedToCommand ? `; spawn → the command's own clock p50 ${f(r.startedToCommand.p50)} / p99 ${f(r.startedToCommand.p99)} ms` : ''}`,
        );
        continue;
      }
      out.push(
        `- ${LABEL[r.system]} \`${r.command}\`: tick → run row inserted p50 ${f(r.ledger.claimLag.p50)} / p99 ${f(r.ledger.claimLag.p99)} ms; row inserted → executor start p50 ${f(r.ledger.offerToStart.p50)} / p99 ${f(r.ledger.offerToStart.p99)} ms; dispatcher CPU ${f(r.dispatcherCpuMsPerRun)} ms per run started; run statuses ${JSON.stringify(r.statuses)}${r.startedToCommand ? `; ledger start → the command's own clock p50 ${f(r.startedToCommand.p50)} / p99 ${f(r.startedToCommand.p99)} ms` : ''}`,
      );
    }
    out.push('');
  }
  return out.join('\n');
}

/** Short names for the ids the bench gives: bench-d-w5-2d1e-1000 → d1, bench-d-w5-2d1e-1000-2 → d2. */
const shortId = (id) => id.replace(/^bench-([de])-w5-\w+-\d+(?:-(\d+))?$/, (m, k, i) => `${k}${i || 1}`);
const counts = (m) =>
  Object.entries(m || {})
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${shortId(k)} ${v}`)
    .join(', ');

function w5Tables(w5) {
  const out = [];
  for (const [n, rows] of byJobs(w5)) {
    const base = rows.find((r) => r.dispatchers === 1 && r.executors === 1);
    out.push(
      `### W5 cluster: ${n} jobs every second, 1 or 2 dispatchers × 1 or 2 executors (MariaDB + Redis + etcd), ${rows[0].seconds} s window\n`,
    );
    out.push(
      ...tableHead(
        '| setup | lag source | p50 ms | p99 ms | max ms | runs/s (expected) | runs/s vs 1d1e | missed | duplicated (rows; rows of any trigger) | runs by dispatcher | runs by executor | processes: CPU, peak RSS | machine busy, load 1m |',
      ),
    );
    for (const r of rows) {
      for (const [src, s] of [
        ['ledger', r.ledger],
        ['stub', r.stub],
      ]) {
        const procs =
          src === 'ledger'
            ? `${procCell(r.resources)} | ${f(r.resources.machineBusyPct, '%')}, ${r.resources.load[1][0].toFixed(2)}`
            : '(as above) | ';
        out.push(
          `| ${r.combo} | ${src} | ${f(s.lag.p50)} | ${f(s.lag.p99)} | ${f(s.lag.max)} | ${f(s.runsPerSec)} (${s.expectedPerSec}) | ${ratio(s.runsPerSec, base && (src === 'ledger' ? base.ledger : base.stub).runsPerSec)} | ${s.missed} | ${s.duplicated}${src === 'ledger' ? ` (rows ${r.ledger.duplicatedRows}; ${r.ledger.duplicatedRowsAnyTrigger})` : ''} | ${src === 'ledger' ? counts(r.byDispatcher) : ''} | ${src === 'ledger' ? counts(r.byExecutor) : ''} | ${procs} |`,
        );
      }
    }
    out.push('');
    out.push(
      `Load on the shared services over the window ("per run" = per run row created in the window; the counters are server-wide, so the background column is the same reading over 5 s before any gocron-ts process of the setup ran):\n`,
    );
    out.push(
      ...tableHead(
        '| setup | run rows created | Redis commands/s (per run; commandstats calls/s) | top Redis commands, calls/s | MariaDB Questions/s (per run) | Com_select / Com_insert / Com_update per s | rows inserted / updated per s | redis-server CPU | mariadbd CPU | background: Redis commands/s, Questions/s |',
      ),
    );
    const svc = (r, name) => {
      const p = r.resources.procs.find((x) => x.name.startsWith(name));
      return f(p && p.cpuPct, '%');
    };
    for (const r of rows) {
      const l = r.load;
      const db = (k) => (l.db[k] ? l.db[k] : { perSec: null, perRun: null });
      // rows written: InnoDB's own counters where the server has them (MySQL), else the handler's (MariaDB 10.11)
      const rows = l.db.Innodb_rows_inserted
        ? `${f(db('Innodb_rows_inserted').perSec)} / ${f(db('Innodb_rows_updated').perSec)} (Innodb_rows_*)`
        : `${f(db('Handler_write').perSec)} / ${f(db('Handler_update').perSec)} (Handler_*)`;
      out.push(
        `| ${r.combo} | ${f(l.runs)} | ${l.redis.commandsProcessed.perSec} (${f(l.redis.commandsProcessed.perRun)}; ${l.redis.commandstatsCalls.perSec}) | ${l.redis.top
          .slice(0, 5)
          .map((c) => `${c.cmd} ${c.perSec}`)
          .join(
            ', ',
          )} | ${db('Questions').perSec} (${f(db('Questions').perRun)}) | ${f(db('Com_select').perSec)} / ${f(db('Com_insert').perSec)} / ${f(db('Com_update').perSec)} | ${rows} | ${svc(r, 'redis-server')} | ${svc(r, 'mariadbd')} | ${r.background ? `${r.background.redis.commandsProcessed.perSec}, ${r.background.db.Questions ? r.background.db.Questions.perSec : '–'}` : '–'} |`,
      );
    }
    out.push('');
    // what a second dispatcher / executor changes, same number of the other
    const find = (d, e) => rows.find((r) => r.dispatchers === d && r.executors === e);
    const perRun = (r, which) =>
      which === 'redis' ? r.load.redis.commandsProcessed.perRun : r.load.db.Questions && r.load.db.Questions.perRun;
    for (const e of [1, 2]) {
      const [a, b] = [find(1, e), find(2, e)];
      if (a && b)
        out.push(
          `- 2 dispatchers vs 1 (${e} executor${e > 1 ? 's' : ''}): runs/s ${f(b.ledger.runsPerSec)} vs ${f(a.ledger.runsPerSec)} (${ratio(b.ledger.runsPerSec, a.ledger.runsPerSec)}); Redis commands per run ${f(perRun(b, 'redis'))} vs ${f(perRun(a, 'redis'))} (${ratio(perRun(b, 'redis'), perRun(a, 'redis'))}), per second ${ratio(b.load.redis.commandsProcessed.perSec, a.load.redis.commandsProcessed.perSec)}; MariaDB questions per run ${f(perRun(b, 'db'))} vs ${f(perRun(a, 'db'))} (${ratio(perRun(b, 'db'), perRun(a, 'db'))}); duplicated rows ${b.ledger.duplicatedRows}, duplicated starts ${b.stub.duplicated}.`,
        );
    }
    for (const d of [1, 2]) {
      const [a, b] = [find(d, 1), find(d, 2)];
      if (a && b)
        out.push(
          `- 2 executors vs 1 (${d} dispatcher${d > 1 ? 's' : ''}): runs/s ${f(b.ledger.runsPerSec)} vs ${f(a.ledger.runsPerSec)} (${ratio(b.ledger.runsPerSec, a.ledger.runsPerSec)}), ledger p99 ${f(b.ledger.lag.p99)} vs ${f(a.ledger.lag.p99)} ms.`,
        );
    }
    for (const r of rows)
      out.push(
        `- ${r.combo}: tick → run row inserted p50 ${f(r.ledger.claimLag.p50)} / p99 ${f(r.ledger.claimLag.p99)} ms; row inserted → executor start p50 ${f(r.ledger.offerToStart.p50)} / p99 ${f(r.ledger.offerToStart.p99)} ms; run statuses ${JSON.stringify(r.statuses)}`,
      );
    out.push('');
  }
  return out.join('\n');
}

/** a / b as a ratio for a figure with history over the same figure without (`–` when either is missing). */
const over = (a, b) => (a == null || b == null ? '–' : b === 0 ? (a === 0 ? '1×' : '∞') : ratio(a, b));
/** A W6 measure's p50 and p99 ratios both within the goal. */
const withinW6Goal = (a, b) =>
  a &&
  b &&
  a.p50 != null &&
  a.p99 != null &&
  b.p50 != null &&
  b.p99 != null &&
  a.p50 <= 1.2 * Math.max(b.p50, 1) &&
  a.p99 <= 1.2 * Math.max(b.p99, 1);

/** The W6 measures of a result: lag from the ledger and the stub, each polled page, the event stream. */
function w6Measures(r) {
  const pages = Object.entries(r.api || {}).map(([, v]) => [`API \`GET ${v.path}\` latency`, v.latency, true]);
  return [
    ['lag, ledger (started − scheduled)', r.ledger.lag, true],
    ['lag, stub (received − scheduled)', r.stub.lag, true],
    ...pages,
    ['event stream: run change → event received (no goal)', r.events.lag, false],
  ];
}

/** [system, the empty-ledger result, the result with the most history] for each system with both. */
function w6Pairs(w6) {
  return [...new Set(w6.map((r) => r.system))].map((sys) => {
    const rs = w6.filter((r) => r.system === sys);
    const empty = rs.find((r) => r.ledgerRows === 0);
    const full = rs.filter((r) => r.ledgerRows > 0).sort((a, b) => b.ledgerRows - a.ledgerRows)[0];
    return [sys, empty, full];
  });
}

function w6Tables(w6) {
  const out = [];
  const r0 = w6[0];
  out.push(
    `### W6 history: W1 at ${r0.jobs} HTTP jobs/s with a dashboard open, beside a ledger of 30 days' history over ${r0.historyJobs} jobs and beside an empty one, ${r0.seconds} s window\n`,
  );
  out.push(
    ...tableHead(
      '| system | measure | empty ledger p50 / p99 / max ms | with history p50 / p99 / max ms | ratio p50 / p99 | goal ≤ 1.2× |',
    ),
  );
  for (const [sys, empty, full] of w6Pairs(w6)) {
    const base = empty || full;
    const measures = w6Measures(base);
    const fullMeasures = full ? w6Measures(full) : [];
    measures.forEach(([name, e, goal], i) => {
      const h = fullMeasures[i] ? fullMeasures[i][1] : null;
      const eStats = empty ? e : null;
      const cell = (x) => (x ? `${f(x.p50)} / ${f(x.p99)} / ${f(x.max)}` : '–');
      out.push(
        `| ${LABEL[sys]}${full ? ` (${full.ledgerRows.toLocaleString('en-US')} runs)` : ''} | ${name} | ${cell(eStats)} | ${cell(h)} | ${eStats && h ? `${over(h.p50, eStats.p50)} / ${over(h.p99, eStats.p99)}` : '–'} | ${!goal ? '–' : eStats && h ? (withinW6Goal(h, eStats) ? 'met' : 'missed') : 'not measured'} |`,
      );
    });
  }
  out.push('');
  for (const [sys, empty, full] of w6Pairs(w6)) {
    for (const r of [empty, full].filter(Boolean)) {
      const api = Object.entries(r.api || {})
        .map(([k, v]) => `${k} ${v.requests} requests, ${v.errors} errors ${JSON.stringify(v.statuses)}`)
        .join('; ');
      out.push(
        `- ${LABEL[sys]}, ${r.ledgerRows ? `${r.ledgerRows.toLocaleString('en-US')} runs` : 'empty ledger'}: ${f(r.ledger.runsPerSec)} of ${r.ledger.expectedPerSec} runs/s, missed ${r.ledger.missed}, duplicated ${r.ledger.duplicated}; tick → row p50 ${f(r.ledger.claimLag.p50)} / p99 ${f(r.ledger.claimLag.p99)} ms, row → start p50 ${f(r.ledger.offerToStart.p50)} / p99 ${f(r.ledger.offerToStart.p99)} ms; ${api}; event stream ${r.events.events} events (${r.events.runEvents} run events, ${r.events.dated} dated), ${r.events.drops} drops${r.events.dropReasons && r.events.dropReasons.length ? ` (${r.events.dropReasons.join('; ')})` : ''}; ${procCell(r.resources).replace(/<br>/g, ', ')}; machine ${f(r.resources.machineBusyPct, '%')} busy`,
      );
    }
  }
  out.push('');
  const fills = w6.filter((r) => r.prefill);
  if (fills.length) {
    out.push(
      'Prefill of the history (multi-row INSERTs from the bench process, the system stopped; MySQL: the next batch generated while one is written):\n',
    );
    out.push(
      ...tableHead(
        '| system | runs | jobs, days | time s | rows/s | INSERTs (rows each) | database size after MB | statuses |',
      ),
    );
    for (const r of fills) {
      const p = r.prefill;
      out.push(
        `| ${LABEL[r.system]} | ${p.rows.toLocaleString('en-US')} | ${p.jobs}, ${p.days} | ${(p.ms / 1000).toFixed(1)} | ${f(p.rowsPerSec)} | ${p.statements} (≤ ${p.rowsPerStatement}) | ${f(p.storageMB)} | ${JSON.stringify(p.statuses)} |`,
      );
    }
    out.push('');
  }
  return out.join('\n');
}

const pct = (x) => (x == null ? '–' : `${x > 0 ? '+' : ''}${x} %`);
const shortProc = (name) => name.replace(/-w7-.*$/, '');

/**
 * W7's growth: the median RSS of the last 5 samples over the one at the base minute. A garbage-collected heap peaks
 * and falls back within a minute or two (the peaks are shown beside it); growth is what stays.
 */
function sustainedGrowthPct(p) {
  const tail = (p.samplesMB || [])
    .slice(-5)
    .filter((x) => x !== null)
    .sort((a, b) => a - b);
  if (!tail.length || !p.baseMB) return null;
  return Math.round((tail[Math.floor(tail.length / 2)] / p.baseMB - 1) * 1000) / 10;
}
const sustainedOk = (p) => sustainedGrowthPct(p) !== null && sustainedGrowthPct(p) <= 10;

function w7Tables(w7) {
  const out = [];
  const r0 = w7[0];
  const parallel = w7.some((r) => r.parallel);
  out.push(
    `### W7 soak: ${r0.jobs} HTTP jobs every second for ${r0.minutes} min${parallel ? ' — **both setups at the same time** (`--w7-parallel`: each shared the machine with the other)' : ', one setup after the other'}\n`,
  );
  out.push(
    ...tableHead(
      '| system | process | RSS at minute N MB | final MB | max from minute N MB | growth: last 5 min (median) / final / max | last 5 min ≤ +10 % | CPU over the soak |',
    ),
  );
  for (const r of w7) {
    for (const p of [...r.rss, { ...r.stubRss, stub: true }]) {
      const res = r.resources.procs.find((x) => x.name === p.name);
      out.push(
        `| ${LABEL[r.system]} | ${shortProc(p.name)}${p.stub ? " (the bench's, apart)" : ''} | ${f(p.baseMB)} (minute ${p.baseMinute}) | ${f(p.finalMB)} | ${f(p.maxMB)} | ${pct(sustainedGrowthPct(p))} / ${pct(p.finalGrowthPct)} / ${pct(p.maxGrowthPct)} | ${p.stub ? '–' : sustainedOk(p) ? 'met' : 'missed'} | ${f(res && res.cpuPct, '%')} |`,
      );
    }
  }
  out.push('');
  out.push(
    ...tableHead(
      '| system | expected ticks | started | absent (no row) | row, never started | status `missed` | misfire records | duplicate keys | ticks started twice | stub: missed / duplicated | lag p50 / p99 / max ms (ledger) | 0 missed, 0 duplicated |',
    ),
  );
  for (const r of w7) {
    const c = r.checks;
    const ok =
      r.ledger.missed === 0 &&
      c.missedStatus === 0 &&
      c.misfireRecords === 0 &&
      c.duplicateKeys === 0 &&
      c.multiStartTicks === 0 &&
      r.stub.duplicated === 0;
    out.push(
      `| ${LABEL[r.system]} | ${c.expectedTicks} | ${r.ledger.started} | ${c.absentTicks} | ${c.notStarted} | ${c.missedStatus} | ${c.misfireRecords} | ${c.duplicateKeys} | ${c.multiStartTicks} | ${r.stub.missed} / ${r.stub.duplicated} | ${f(r.ledger.lag.p50)} / ${f(r.ledger.lag.p99)} / ${f(r.ledger.lag.max)} | ${ok ? 'met' : 'missed'} |`,
    );
  }
  out.push('');
  for (const r of w7) {
    out.push(
      `- ${LABEL[r.system]}: RSS MB each minute — ${[...r.rss, r.stubRss].map((p) => `${shortProc(p.name)} ${p.samplesMB.map((x) => f(x)).join(', ')}`).join('; ')}; run statuses ${JSON.stringify(r.statuses)}; machine ${f(r.resources.machineBusyPct, '%')} busy, load ${load(r.resources.load[1])}`,
    );
  }
  out.push('');
  return out.join('\n');
}

/** The gocron-ts results of a scenario (not BullMQ's, not the floor's). */
const gocronOnly = (rs) => rs.filter((r) => r.system === 'embedded' || r.system === 'cluster');

function targets(res) {
  const out = tableHead(
    '| target | gocron-ts setup | figure | BullMQ same run | ratio to BullMQ | floor same run | ratio to floor | verdict |',
  );
  const w1k = res.w1.filter((r) => r.jobs === 1000);
  const bull = w1k.find((r) => r.system === 'bullmq');
  const floor = w1k.find((r) => r.system === 'floor');
  for (const r of gocronOnly(w1k)) {
    const p99 = r.ledger.lag.p99;
    const sp99 = r.stub.lag.p99;
    const b = bull && bull.stub.lag.p99;
    const fl = floor && floor.stub.lag.p99;
    const ok = p99 != null && p99 <= 50 && sp99 <= 50 && (b == null || sp99 <= b / 2) && r.ledger.missed === 0;
    out.push(
      `| W1 1,000/s: p99 ≤ 50 ms, ≤ ½ BullMQ, 0 missed | ${r.system} | p99 ${p99} ms (ledger), ${sp99} ms (stub); missed ${r.ledger.missed} | p99 ${f(b)} ms | ${ratio(sp99, b)} | p99 ${f(fl)} ms (stub) | ${ratio(sp99, fl)} (stub) | ${ok ? 'met' : 'missed'} |`,
    );
  }
  if (!w1k.length) out.push('| W1 1,000/s | – | not run | – | – | – | – | not measured |');
  const w2 = res.w2 || [];
  const b2 = w2.find((r) => r.system === 'bullmq');
  const f2 = w2.find((r) => r.system === 'floor');
  for (const r of gocronOnly(w2)) {
    const p99 = r.ledger.started === r.jobs ? r.ledger.lag.p99 : null;
    out.push(
      `| W2 burst ${r.jobs}: p99 ≤ 400 ms | ${r.system} | ${p99 != null ? `p99 ${p99} ms, all started after ${r.ledger.allStartedAfterMs} ms` : `only ${r.ledger.started} of ${r.jobs} started within 60 s (p99 of those ${r.ledger.lag.p99} ms)`} (ledger), stub p99 ${f(r.stub.lag.p99)} ms | ${b2 ? `p99 ${b2.stub.lag.p99} ms (${b2.stub.started} of ${b2.jobs} started)` : '–'} | ${ratio(r.ledger.lag.p99, b2 && b2.stub.lag.p99)} | ${f2 ? `p99 ${f2.stub.lag.p99} ms (stub; ${f2.stub.started} of ${f2.jobs} arrived)` : '–'} | ${ratio(r.stub.lag.p99, f2 && f2.stub.lag.p99)} (stub) | ${p99 != null && p99 <= 400 ? 'met' : 'missed'} |`,
    );
  }
  if (!w2.length) out.push('| W2 burst p99 ≤ 400 ms | – | not run in this session | – | – | – | – | not measured |');
  const w3 = gocronOnly(res.w3.filter((r) => r.jobs === 100000));
  for (const r of w3) {
    const b = res.w3.find((x) => x.system === 'bullmq' && x.jobs === 100000) || {};
    const rssOk = r.rssMB <= 256 && (!r.beforeGc || r.beforeGc.rssMB <= 256);
    out.push(
      `| W3 100,000 jobs: dispatcher ≤ 256 MB RSS | ${r.system} | ${r.beforeGc ? `${r.beforeGc.rssMB} MB RSS settled, ` : ''}${r.rssMB} MB after a full GC (heap used ${f(r.heapUsedMB)} MB) | no scheduler process: Redis +${f(b.redisDeltaMB)} MB, worker ${f(b.workerRssMB)} MB | – | – | – | ${rssOk ? 'met' : 'missed'} |`,
    );
    const cs = Math.max(r.coldStart.schedulingLogMs, r.coldStart.healthMs);
    out.push(
      `| W3 100,000 jobs: cold start ≤ 5 s | ${r.system} | spawn → "scheduling" log ${r.coldStart.schedulingLogMs} ms, → /api/health 200 ${r.coldStart.healthMs} ms (loading itself: ${f(r.coldStart.loadedInMs)} ms) | worker spawn → ready ${f(b.workerColdStartMs)} ms | ${ratio(cs, b.workerColdStartMs)} | – | – | ${cs <= 5000 ? 'met' : 'missed'} |`,
    );
  }
  if (!w3.length) out.push('| W3 100,000 jobs | – | not run | – | – | – | – | not measured |');
  const w100 = res.w1.filter((r) => r.jobs === Math.min(...res.w1.map((x) => x.jobs)));
  const b100 = w100.find((r) => r.system === 'bullmq');
  const f100 = w100.find((r) => r.system === 'floor');
  for (const r of gocronOnly(w100)) {
    const p50 = r.ledger.lag.p50;
    out.push(
      `| idle-machine lag p50 ≤ 5 ms (from W1 ${r.jobs}/s; the machine was not idle: ${r.resources.machineBusyPct}% busy) | ${r.system} | p50 ${p50} ms (ledger), ${r.stub.lag.p50} ms (stub) | p50 ${f(b100 && b100.stub.lag.p50)} ms | ${ratio(r.stub.lag.p50, b100 && b100.stub.lag.p50)} | p50 ${f(f100 && f100.stub.lag.p50)} ms (stub) | ${ratio(r.stub.lag.p50, f100 && f100.stub.lag.p50)} (stub) | ${p50 <= 5 ? 'met' : 'missed'} |`,
    );
  }
  const w4 = res.w4 || [];
  const b4 = w4.find((r) => r.system === 'bullmq');
  const floorW4 = (command) => w4.find((r) => r.system === 'floor' && r.command === command);
  for (const r of gocronOnly(w4).filter((x) => x.command === 'true')) {
    const l = r.ledger;
    const f4 = floorW4(r.command);
    out.push(
      `| W4 shell ${r.jobs}/s \`true\` (no numeric target) | ${r.system} | p99 ${f(l.lag.p99)} ms (ledger), ${f(l.runsPerSec)} of ${l.expectedPerSec} runs/s, missed ${l.missed}; spawn cost ${f(r.spawn.cpuMsPerRun)} ms executor + helper CPU per run${r.spawn.childCpuMsPerRun != null ? ` (+ ${f(r.spawn.childCpuMsPerRun)} ms the tasks' own)` : ''} | ${b4 ? `p99 ${f(b4.worker.lag.p99)} ms (worker), ${f(b4.worker.runsPerSec)} runs/s, spawn cost ${f(b4.spawn.cpuMsPerRun)} ms worker CPU per run` : '–'} | ${ratio(l.lag.p99, b4 && b4.worker.lag.p99)} | ${f4 ? `p99 ${f(f4.worker.lag.p99)} ms (spawn), ${f(f4.worker.runsPerSec)} runs/s, missed ${f4.worker.missed}; ${f(f4.spawn.cpuMsPerRun)} ms CPU per run (+ ${f(f4.spawn.childCpuMsPerRun)} ms reaped children)` : '–'} | ${ratio(l.lag.p99, f4 && f4.worker.lag.p99)} (p99, ledger ÷ spawn), ${ratio(r.spawn.cpuMsPerRun, f4 && f4.spawn.cpuMsPerRun)} (CPU per run) | measured |`,
    );
  }
  for (const r of gocronOnly(w4).filter((x) => x.commandLag)) {
    const f4 = floorW4(r.command);
    const fl = f4 && f4.commandLag;
    out.push(
      `| W4 shell ${r.jobs}/s \`${r.command}\`: command-start lag (its output − scheduled; no numeric target) | ${r.system} | p99 ${f(r.commandLag.p99)} ms, ${f(r.ledger.runsPerSec)} of ${r.ledger.expectedPerSec} runs/s, missed ${r.ledger.missed}; ${f(r.spawn.cpuMsPerRun)} ms executor + helper CPU per run (+ ${f(r.spawn.childCpuMsPerRun)} ms the tasks' own) | – | – | ${fl ? `p99 ${f(fl.p99)} ms, ${f(f4.worker.runsPerSec)} runs/s, missed ${f4.worker.missed}` : '–'} | ${ratio(r.commandLag.p99, fl && fl.p99)} | measured |`,
    );
  }
  if (!w4.length) out.push('| W4 shell | – | not run | – | – | – | – | not measured |');
  const w5 = res.w5 || [];
  for (const r of w5) {
    const base = w5.find((x) => x.jobs === r.jobs && x.dispatchers === 1 && x.executors === 1);
    const dups = r.ledger.duplicatedRows + r.ledger.duplicatedRowsAnyTrigger + r.ledger.duplicated + r.stub.duplicated;
    out.push(
      `| W5 cluster ${r.jobs}/s, ${r.dispatchers} dispatcher(s) × ${r.executors} executor(s): no tick run twice; throughput a measurement | ${r.combo} | ${f(r.ledger.runsPerSec)} of ${r.jobs} runs/s${base && base !== r ? ` (${ratio(r.ledger.runsPerSec, base.ledger.runsPerSec)} of 1d1e)` : ''}, p99 ${f(r.ledger.lag.p99)} ms; duplicated rows ${r.ledger.duplicatedRows}, starts ${r.stub.duplicated}; Redis ${f(r.load.redis.commandsProcessed.perRun)} commands/run, MariaDB ${f(r.load.db.Questions && r.load.db.Questions.perRun)} questions/run | – | – | – | – | ${dups ? '**duplicates**' : 'measured, 0 duplicates'} |`,
    );
  }
  if (!w5.length)
    out.push('| W5 cluster 1 vs 2 dispatchers and executors | – | not run | – | – | – | – | not measured |');
  const w6 = res.w6 || [];
  for (const [sys, empty, full] of w6Pairs(w6)) {
    if (!empty || !full) {
      out.push(
        `| W6 history: lag and API latency ≤ 1.2× an empty ledger | ${sys} | only the ${empty ? 'empty ledger' : 'history'} was measured | – | – | – | – | not measured |`,
      );
      continue;
    }
    const pairs = w6Measures(full)
      .map((m, i) => [m, w6Measures(empty)[i]])
      .filter(([m]) => m[2]);
    const ok = pairs.every(([h, e]) => withinW6Goal(h[1], e[1]));
    const fig = pairs
      .map(
        ([h, e]) =>
          `${h[0].replace(/ latency$| \(.*\)$/g, '')} p99 ${f(h[1].p99)} vs ${f(e[1].p99)} ms (${over(h[1].p99, e[1].p99)})`,
      )
      .join('; ');
    out.push(
      `| W6 history ${full.ledgerRows.toLocaleString('en-US')} runs: lag and API latency p50 and p99 ≤ 1.2× an empty ledger | ${sys} | ${fig} | – | – | – | – | ${ok ? 'met' : 'missed'} |`,
    );
  }
  if (!w6.length)
    out.push('| W6 history: lag and API latency ≤ 1.2× an empty ledger | – | not run | – | – | – | – | not measured |');
  const w7 = res.w7 || [];
  for (const r of w7) {
    const c = r.checks;
    const rssOk = r.rss.every(sustainedOk);
    const none =
      r.ledger.missed === 0 &&
      c.missedStatus === 0 &&
      c.misfireRecords === 0 &&
      c.duplicateKeys === 0 &&
      c.multiStartTicks === 0 &&
      r.stub.duplicated === 0;
    out.push(
      `| W7 soak ${r.jobs}/s for ${r.minutes} min${r.parallel ? ' (both setups at once)' : ''}: RSS of the last 5 min ≤ +10 % over minute ${r.rss[0] ? r.rss[0].baseMinute : 5}, 0 missed, 0 duplicated | ${r.system} | ${r.rss.map((p) => `${shortProc(p.name)} ${f(p.baseMB)} → ${f(p.finalMB)} MB (last 5 min ${pct(sustainedGrowthPct(p))}, peak ${pct(p.maxGrowthPct)})`).join(', ')}; missed ${r.ledger.missed} (status missed ${c.missedStatus}), duplicated ${c.duplicateKeys + c.multiStartTicks} | – | – | – | – | ${rssOk && none ? 'met' : 'missed'} |`,
    );
  }
  if (!w7.length)
    out.push(
      '| W7 soak: RSS ≤ +10 % after 5 min, 0 missed, 0 duplicated | – | not run | – | – | – | – | not measured |',
    );
  return out.join('\n');
}

/** Horizontal bars of lag p50 / p99 / max (log scale) per scenario and system. */
function svg(res) {
  const items = [];
  for (const r of res.w1) {
    const s = !r.ledger || r.stub.lag.n ? r.stub : r.ledger;
    items.push({ label: `W1 ${r.jobs}/s · ${LABEL[r.system]}`, sys: r.system, lag: s.lag });
  }
  for (const r of res.w2 || []) {
    const s = !r.ledger || r.stub.lag.n ? r.stub : r.ledger;
    items.push({ label: `W2 burst ${r.jobs} · ${LABEL[r.system]}`, sys: r.system, lag: s.lag });
  }
  for (const r of (res.w4 || []).filter((x) => x.command === 'true')) {
    items.push({
      label: `W4 shell ${r.jobs}/s · ${LABEL[r.system]}`,
      sys: r.system,
      lag: (r.ledger || r.worker).lag,
    });
  }
  for (const r of res.w5 || []) {
    items.push({
      label: `W5 ${r.jobs}/s ${r.combo} · gocron-ts cluster`,
      sys: 'cluster',
      lag: (r.stub.lag.n ? r.stub : r.ledger).lag,
    });
  }
  const W = 1240;
  const rowH = 46;
  const left = 370;
  const top = 50;
  const shell = (res.w4 || []).length > 0;
  const H = top + items.length * rowH + 60 + (shell ? 16 : 0);
  const maxV = Math.max(10, ...items.map((i) => i.lag.max || 0));
  const lo = 1;
  const scale = (v) =>
    left +
    ((Math.log10(Math.max(lo, v)) - Math.log10(lo)) / (Math.log10(maxV * 1.2) - Math.log10(lo))) * (W - left - 290);
  const color = { embedded: '#2b7bb9', cluster: '#6a3d9a', bullmq: '#d95f02', floor: '#7f7f7f' };
  const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">Tick-to-start lag (ms, log scale): bar = p50, dark mark = p99, thin line to max</text>`,
  ];
  let lastLabelX = -Infinity;
  for (let d = 1; d <= maxV * 1.2; d *= 10) {
    for (const m of [1, 2, 5]) {
      const v = d * m;
      if (v > maxV * 1.2) continue;
      const x = scale(v);
      const axis = H - (shell ? 16 : 0);
      parts.push(`<line x1="${x}" y1="${top - 8}" x2="${x}" y2="${axis - 50}" stroke="#ddd"/>`);
      if (x - lastLabelX > 34) {
        parts.push(`<text x="${x}" y="${axis - 34}" text-anchor="middle" fill="#555">${v}</text>`);
        lastLabelX = x;
      }
    }
  }
  items.forEach((it, i) => {
    const y = top + i * rowH;
    const c = color[it.sys];
    const { p50, p99, max } = it.lag;
    parts.push(`<text x="${left - 8}" y="${y + 20}" text-anchor="end">${esc(it.label)}</text>`);
    if (p50 == null) return;
    parts.push(
      `<line x1="${scale(p99)}" y1="${y + 16}" x2="${scale(max)}" y2="${y + 16}" stroke="${c}" stroke-width="1.5"/>`,
    );
    parts.push(
      `<rect x="${left}" y="${y + 6}" width="${Math.max(1, scale(p50) - left)}" height="20" fill="${c}" opacity="0.55"/>`,
    );
    parts.push(`<rect x="${scale(p99) - 2}" y="${y + 3}" width="4" height="26" fill="${c}"/>`);
    parts.push(`<text x="${W - 275}" y="${y + 20}" fill="#333">p50 ${p50} · p99 ${p99} · max ${max} ms</text>`);
  });
  const foot = H - 12 - (shell ? 16 : 0);
  parts.push(
    `<text x="${W / 2}" y="${foot}" text-anchor="middle" fill="#555">gocron-ts: stub receive time − X-Gocron-Scheduled-At; BullMQ: stub receive time − job.opts.prevMillis (the scheduler's tick)</text>`,
  );
  if (shell)
    parts.push(
      `<text x="${W / 2}" y="${foot + 16}" text-anchor="middle" fill="#555">W4 (no stub): gocron-ts runs.started_at − runs.scheduled_at; BullMQ: the worker's clock at spawn − job.opts.prevMillis</text>`,
    );
  parts.push('</svg>');
  return parts.join('\n');
}

function writeReport(res, outDir = path.join(ROOT, 'docs')) {
  const m = res.machine;
  const w1 = res.w1 || [];
  const w3 = res.w3 || [];
  const w4 = res.w4 || [];
  const w5 = res.w5 || [];
  const w6 = res.w6 || [];
  const w7 = res.w7 || [];
  // each scenario's own window (merged results may come from runs with different --seconds)
  const windows = [
    ['W1', w1],
    ['W4', w4],
    ['W5', w5],
    ['W6', w6],
  ]
    .filter(([, rs]) => rs.length)
    .map(([s, rs]) => [s, rs[0].seconds]);
  const missing = ['w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'w7'].filter((s) => !(res[s] && res[s].length));
  const NOT_RUN = {
    w1: 'W1 steady (100 and 1,000 HTTP jobs every second)',
    w2: 'W2 burst (5,000 jobs due the same second)',
    w3: 'W3 scale (10,000 and 100,000 hourly jobs)',
    w4: 'W4 shell (200 jobs running `true` every second)',
    w5: 'W5 cluster (1 vs 2 dispatchers and executors at 1,000 jobs/s)',
    w6: 'W6 history (W1 at 100 jobs/s with a dashboard open, beside 10 million runs on the cluster setup and 2 million embedded, vs an empty ledger)',
    w7: 'W7 soak (200 jobs/s for 30 minutes: RSS each minute, 0 missed, 0 duplicated)',
  };
  const md = [
    '# Benchmarks: gocron-ts vs BullMQ job schedulers',
    '',
    `Written by \`npm run bench\` (\`node bench/run.js\`) — run \`${res.runId}\`, ${res.startedAt} → ${res.finishedAt}. Both systems were measured in the same run, one after the other, on the same machine and the same local Redis. Raw figures: \`bench/results/latest.json\`.`,
    '',
    res.merged && res.merged.scenarios.length
      ? `Scenarios come from different runs: ${Object.entries(res.provenance || {})
          .map(([s, id]) => `${s.toUpperCase()} from \`${id}\``)
          .join(
            ', ',
          )}; the run before this one was \`${res.merged.from}\` (${res.earlier.startedAt} → ${res.earlier.finishedAt}, load ${load(res.earlier.loadAtStart)} → ${load(res.earlier.loadAtEnd)}, build ${res.earlier.build && res.earlier.build.commit}, dist ${res.earlier.build && res.earlier.build.distBuiltAt}). Within each scenario, all systems come from one run.\n`
      : '',
    '## Machine and settings',
    '',
    `- ${m.nproc} cores (\`nproc\`), ${m.cpuModel}, ${m.ramGB} GB RAM, Linux ${m.kernel}, Node ${m.node}, BullMQ ${m.bullmq}`,
    `- load average (1/5/15 min) at start ${load(res.loadAtStart)}, at end ${load(res.loadAtEnd)}; the machine is shared with other work (per scenario: "machine busy" = all-CPU busy share during the window from /proc/stat)`,
    `- gocron-ts build measured: commit ${(res.build && res.build.commit) || '?'}, dist built ${(res.build && res.build.distBuiltAt) || '?'} (copied to a temporary directory at the start of the run, so a rebuild during the run does not mix versions)`,
    `- gocron-ts: one dispatcher + one executor (W5: one or two of each), executor capacity ${res.options.capacity}; embedded = SQLite (WAL) with static discovery; cluster = MariaDB + Redis (Redlock, pub/sub) + etcd discovery, a fresh database and fresh key prefixes per scenario`,
    `- BullMQ: \`upsertJobScheduler(id, {pattern: '* * * * * *'})\` per job (W3: \`'0 0 * * * *'\`), one Worker process at concurrency ${res.options.bullConcurrency}, its own key prefix on the same Redis`,
    `- the task: an HTTP GET to a local stub process that answers 200 at once and records the receive time`,
    windows.length
      ? `- steady-state windows (${windows.map(([s, secs]) => `${s} ${secs} s`).join(', ')}): starting on a whole second after ${res.options.warmup != null ? `a ${Math.max(3, res.options.warmup)} s warm-up with the load already running (every system alike)` : 'everything is up (≥ 3 s)'}; late runs of the window are collected for 5 more seconds${windows.some(([, secs]) => secs < 60) ? ' — **shortened from the 60 s of issue 5**' : ''}`
      : null,
    w4.length
      ? "- W4: shell jobs running `true` every second, no stub. gocron-ts's executor hands each run to its spawn helper (one small perl process per executor, `apps/executor/src/tasks/runners/spawn-helper.ts`), which forks `/bin/sh -c 'true'`, as root in a PID namespace of its own (the default containment when the executor runs as root, as here); the BullMQ worker (`BULL_MODE=spawn` of `bench/bullmq-worker.js`) spawns `true` itself with `child_process.spawn`, no shell, and waits for its exit. Spawn cost = the executor's own CPU plus its spawn helper's (BullMQ: the worker's; floor: the bare spawning loop's) over the window ÷ runs started in the window (it includes everything else the process does per run); reaped children = cutime+cstime of the process that waits for the tasks (the helper for gocron-ts): the tasks' own CPU, PID 1 of each namespace included, counted once waited for."
      : null,
    [w1, res.w2 || [], w4].some((rs) => rs.some((r) => r.system === 'floor'))
      ? "- the floor (issue 17), measured in the same run as the systems and with the same window rules: `bench/floor.js`, a bare loop in a small Node process doing each tick's tasks at the tick's instant, no scheduler. W1 / W2: N `http.request` GETs at each whole second (W2: all N at the burst instant) through one keep-alive `http.Agent` with the executor's settings (256 sockets per host, LIFO), to a stub of its own, with gocron-ts's `X-Gocron-Scheduled-At` header. W4: N `child_process.spawn('/bin/sh', ['-c', command])` with stdio pipes at each whole second, each waited for to its exit; CPU per run = the loop's own CPU ÷ runs, reaped children apart, as for the others."
      : null,
    w5.length
      ? "- W5: cluster setup only, W1's HTTP jobs with 1 or 2 dispatchers (the second on its own HTTP port with its own id, same database, Redis prefix and etcd prefix) and 1 or 2 executors (the second on its own gRPC port with its own id), a fresh database per setup. Redis load = deltas of `INFO stats` total_commands_processed and of the calls in `INFO commandstats` (which also counts the commands Lua scripts run, e.g. Redlock's); MariaDB load = deltas of `SHOW GLOBAL STATUS` (Questions, Com_*, rows written from Innodb_rows_* or, where the server lacks them as MariaDB 10.11 does, Handler_*), both over the window and server-wide."
      : null,
    w6.length
      ? `- W6: gocron-ts only, each setup twice, on a fresh database each time: once with the ledger prefilled (the system stopped after one start had migrated the schema) with 30 days of history over ${w6[0].historyJobs} paused jobs (\`@every\` schedules, their runs exactly their ticks, Zipf-skewed per job; 2 % failed, 0.5 % missed, some skipped under \`forbid\`; ids following created_at; \`bench/lib/history.ts\`), once with the same jobs and no runs. W1's jobs are the first ${w6[0].jobs} of those jobs switched to every second (HTTP to the stub), so their claims go among their own history in every index. A dashboard is open throughout, warm-up included: \`GET /api/events\` read as it streams, \`GET /api/runs?limit=50\` and \`GET /api/jobs?limit=50\` each every second (one at a time per page, at phases spread over the second), timed to the last byte of the answer; an event's lag = its arrival − the ledger's instant of the status it announces. The ratio is with history ÷ empty (figures under 1 ms count as 1 ms for the goal).`
      : null,
    w7.length
      ? `- W7: gocron-ts only, W1's HTTP jobs for ${w7[0].minutes} min after the warm-up${w7.some((r) => r.parallel) ? ', **both setups at the same time** (`--w7-parallel`)' : ''}; VmRSS of each process from \`/proc/<pid>/status\` at minute 0, 1, 2, …; growth is measured from the sample at minute ${w7[0].rss[0] ? w7[0].rss[0].baseMinute : 5} (minute 5: the first 5 minutes are start-up; half the soak when it is shorter than 10 minutes). The stub's records are collected every minute, so its memory is its own. From the ledger: expected ticks without a row, rows that never started, rows with status \`missed\`, misfire records, duplicate ledger keys, and (job, tick)s started more than once.`
      : null,
    '',
    '## How lag is measured',
    '',
    "- gocron-ts **ledger**: `runs.started_at − runs.scheduled_at` (executor's start, the tick's computed instant), rows with `trigger = schedule` and `scheduled_at` in the window.",
    '- gocron-ts **stub**: stub receive time − `X-Gocron-Scheduled-At` header.',
    "- BullMQ **stub**: stub receive time − `job.opts.prevMillis`, which `upsertJobScheduler` sets to the tick's `nextMillis` (also the suffix of the job id `repeat:<id>:<nextMillis>`).",
    w4.length
      ? "- BullMQ **worker** (W4): the worker's clock just before `spawn('true')` − `job.opts.prevMillis`. gocron-ts W4 uses the ledger only; its `date +%s%3N` variant (`--w4-stamp`) also dates the command's own start (**command**: its output − `runs.scheduled_at`)."
      : null,
    '- floor **stub** (W1, W2): as gocron-ts **stub**; floor **loop** (W4): its clock just before `spawn` − the tick, and with `--w4-stamp` **command**: the `date +%s%3N` output − the tick.',
    '- missed = expected ticks (jobs × seconds) without a started run by the end of the grace period; duplicated = more than one start for one (job, tick).',
    '- CPU = utime+stime delta from `/proc/<pid>/stat` over the window; RSS = peak `VmRSS` sampled every 500 ms in the window. Shared services (Redis, MariaDB, etcd) serve other work too.',
    '',
    '![lag per system and scenario](benchmarks.svg)',
    '',
    '## Targets (issue 5)',
    '',
    targets({ w1, w2: res.w2 || [], w3, w4, w5, w6, w7 }),
    '',
    '## Results',
    '',
    w1.length ? w1Tables(w1) : '_W1 not run._\n',
    res.w2 && res.w2.length ? w2Table(res.w2) : '_W2 not run._\n',
    w3.length ? w3Tables(w3) : '_W3 not run._\n',
    w4.length ? w4Tables(w4) : '_W4 not run._\n',
    w5.length ? w5Tables(w5) : '_W5 not run._\n',
    w6.length ? w6Tables(w6) : '_W6 not run._\n',
    w7.length ? w7Tables(w7) : '_W7 not run._\n',
    res.errors && res.errors.length
      ? `### Failures\n\n${res.errors.map((e) => `- ${e.label}: ${e.error}`).join('\n')}\n`
      : '',
    missing.length
      ? `## Not yet measured\n\n${missing.map((s) => NOT_RUN[s]).join('; ')}: no results in this file (\`node bench/run.js ${missing.join(' ')} --merge\` adds them).\n`
      : '',
    fs.existsSync(path.join(__dirname, 'NOTES.md')) ? fs.readFileSync(path.join(__dirname, 'NOTES.md'), 'utf8') : '',
  ]
    .filter((l) => l !== null)
    .join('\n');
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'benchmarks.md'), md);
  fs.writeFileSync(path.join(outDir, 'benchmarks.svg'), svg({ ...res, w1 }));
}

module.exports = { writeReport };

if (require.main === module) {
  const file = process.argv[2] || path.join(__dirname, 'results', 'latest.json');
  const outDir = process.argv[3] ? path.resolve(process.argv[3]) : path.join(ROOT, 'docs');
  writeReport(JSON.parse(fs.readFileSync(file, 'utf8')), outDir);
  process.stdout.write(`wrote ${path.join(outDir, 'benchmarks.md')} and benchmarks.svg\n`);
}

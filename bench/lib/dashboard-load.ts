// What an open dashboard asks of a dispatcher (W6): the event stream kept reading, and pages polled every second,
// each request timed to its last byte. Readings carry their instant, so a scenario keeps only its window's.
import { apiFetch, openEventStream } from './api';
import { sleepUntil } from './clock';
import { LagStats, lagStats } from './stats';

/** A page the dashboard polls, e.g. `{ name: 'runs', path: '/api/runs?limit=50' }`. */
export interface PolledPage {
  name: string;
  path: string;
}

interface ApiSample {
  at: number;
  ms: number;
  status: number;
}

/** A `run` event of the stream: which run, the status it announced, when it arrived. */
export interface RunEventSample {
  at: number;
  runId: number;
  status: string | null;
}

export interface PageStats {
  path: string;
  requests: number;
  /** Answers other than 200, and requests that failed outright. */
  errors: number;
  statuses: Record<string, number>;
  /** Request sent → last byte of the answer read, over every request answered (errors included). */
  latency: LagStats;
}

export interface EventStreamStats {
  events: number;
  runEvents: number;
  /** Times the stream failed or ended and was opened again. */
  drops: number;
  dropReasons: string[];
}

export interface DashboardReadings {
  pages: Record<string, PageStats>;
  stream: EventStreamStats;
  /** The window's `run` events, for a scenario that dates them against the ledger. */
  runEvents: RunEventSample[];
}

export interface DashboardLoad {
  /** Stops polling (waiting for the requests in flight) and closes the stream. */
  stop(): Promise<void>;
  /** What was read in [T0, T1) (a request counts by the instant it was sent). */
  readings(T0: number, T1: number): DashboardReadings;
}

/**
 * Opens `GET /api/events` and polls each page every `periodMs`. A page's requests do not overlap: one slower than
 * the period delays the next (as a dashboard that refreshes on an answer). Each request is sent at a different
 * point of its second (phases 0, 370, 740, 110, … ms past it), so the latencies sample the whole second, the
 * scheduler's burst at the top of it included, rather than always the same instant of it.
 */
export function startDashboardLoad(base: string, pages: PolledPage[], periodMs = 1000): DashboardLoad {
  const samples = new Map<string, ApiSample[]>(pages.map((p) => [p.name, []]));
  const events: { at: number; event: string; run: RunEventSample | null }[] = [];
  const drops: { at: number; why: string }[] = [];
  const stream = openEventStream(
    base,
    '/api/events',
    (e) => {
      let run: RunEventSample | null = null;
      if (e.event === 'run') {
        try {
          const d = JSON.parse(e.data) as { runId?: number; status?: string };
          if (typeof d.runId === 'number') run = { at: e.at, runId: d.runId, status: d.status ?? null };
        } catch {
          // not JSON: counted as an event, not dated
        }
      }
      events.push({ at: e.at, event: e.event, run });
    },
    (why) => drops.push({ at: Date.now(), why }),
  );
  let stopping = false;
  const poll = async (page: PolledPage, offsetMs: number): Promise<void> => {
    const into = samples.get(page.name) as ApiSample[];
    const start = Math.ceil(Date.now() / periodMs) * periodMs;
    for (let k = 0; !stopping; k++) {
      await sleepUntil(start + k * periodMs + ((offsetMs + k * 370) % periodMs));
      if (stopping) break;
      const at = Date.now();
      let status = 0;
      try {
        const res = await apiFetch(base, page.path);
        status = res.status;
        await res.arrayBuffer();
      } catch {
        status = 0;
      }
      into.push({ at, ms: Date.now() - at, status });
      // after a slow answer the next request goes in the next slot still ahead, not at once to catch up
      k = Math.max(k, Math.floor((Date.now() - start) / periodMs));
    }
  };
  const loops = pages.map((p, i) => poll(p, Math.round((i * periodMs) / pages.length)));
  return {
    async stop() {
      stopping = true;
      stream.close();
      await Promise.all(loops);
    },
    readings(T0, T1) {
      const inWin = (at: number): boolean => at >= T0 && at < T1;
      const out: Record<string, PageStats> = {};
      for (const p of pages) {
        const xs = (samples.get(p.name) as ApiSample[]).filter((s) => inWin(s.at));
        const statuses: Record<string, number> = {};
        for (const s of xs) statuses[s.status || 'failed'] = (statuses[s.status || 'failed'] || 0) + 1;
        out[p.name] = {
          path: p.path,
          requests: xs.length,
          errors: xs.filter((s) => s.status !== 200).length,
          statuses,
          latency: lagStats(xs.filter((s) => s.status > 0).map((s) => s.ms)),
        };
      }
      const evs = events.filter((e) => inWin(e.at));
      const runEvents = evs.map((e) => e.run).filter((r): r is RunEventSample => r !== null);
      const ds = drops.filter((d) => inWin(d.at));
      return {
        pages: out,
        stream: {
          events: evs.length,
          runEvents: runEvents.length,
          drops: ds.length,
          dropReasons: [...new Set(ds.map((d) => d.why))].slice(0, 5),
        },
        runEvents,
      };
    },
  };
}

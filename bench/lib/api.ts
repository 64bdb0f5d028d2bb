// The bench as a client of the gocron-ts REST API: every request it makes goes through here, so the credentials
// the API asks for are added in one place: apiHeaders().
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';

/**
 * The bench's admin token: BENCH_API_TOKEN when set, else one made for this run (`gct_` + 43 base64url characters,
 * as API tokens look) and kept in BENCH_API_TOKEN. Every dispatcher the bench starts is configured with it
 * (GOCRON_AUTH_ADMIN_TOKEN) and every request sends it, so the bench measures the API with auth on, as it ships.
 */
export function benchApiToken(): string {
  const token = process.env.BENCH_API_TOKEN || `gct_${randomBytes(32).toString('base64url')}`;
  process.env.BENCH_API_TOKEN = token;
  return token;
}

/** Headers of every API request: the bench's token as a bearer token. */
export function apiHeaders(): Record<string, string> {
  return { authorization: `Bearer ${benchApiToken()}` };
}

/** `fetch` of `base` + `path` (e.g. `/api/jobs?limit=50`) with the API's headers added. */
export function apiFetch(base: string, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${base}${path}`, {
    ...init,
    headers: { ...apiHeaders(), ...(init.headers as Record<string, string>) },
  });
}

/** One server-sent event: its `event:` name (`message` when absent) and its `data:` text. */
export interface ServerEvent {
  at: number;
  event: string;
  data: string;
}

export interface EventStream {
  /** Closes the connection; no reconnect after this. */
  close(): void;
}

/**
 * Reads `GET base + path` as a text/event-stream for as long as it is open, calling `onEvent` for each event as it
 * arrives and `onDrop` when the connection fails or ends; like a browser's EventSource it connects again
 * `reconnectMs` later. node:http rather than fetch: undici's body timeout would end a quiet stream after 300 s.
 */
export function openEventStream(
  base: string,
  path: string,
  onEvent: (e: ServerEvent) => void,
  onDrop: (why: string) => void,
  reconnectMs = 1000,
): EventStream {
  let closed = false;
  let current: ReturnType<typeof request> | null = null;
  let timer: NodeJS.Timeout | null = null;
  const connect = (): void => {
    const url = new URL(path, base);
    let dropped = false;
    const drop = (why: string): void => {
      if (dropped || closed) return;
      dropped = true;
      onDrop(why);
      timer = setTimeout(connect, reconnectMs);
    };
    const req = request(url, { headers: { ...apiHeaders(), accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        drop(`HTTP ${res.statusCode}`);
        return;
      }
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (chunk: string) => {
        buf += chunk;
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
          }
          if (data.length) onEvent({ at: Date.now(), event, data: data.join('\n') });
        }
      });
      res.on('end', () => drop('stream ended'));
      res.on('error', (e) => drop(e.message));
    });
    req.on('error', (e) => drop(e.message));
    req.end();
    current = req;
  };
  connect();
  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      current?.destroy();
    },
  };
}

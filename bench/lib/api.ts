// The bench as a client of the gocron-ts REST API: every request it makes goes through here, so the credentials
// the API will ask for (a later issue) are added in one place: apiHeaders().
import { request } from 'node:http';

/** Headers of every API request. BENCH_API_TOKEN, when set, is sent as a bearer token. */
export function apiHeaders(): Record<string, string> {
  const token = process.env.BENCH_API_TOKEN;
  return token ? { authorization: `Bearer ${token}` } : {};
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

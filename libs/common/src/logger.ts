import { ConsoleLogger, LoggerService, LogLevel } from '@nestjs/common';
import { maskPrepared, prepareSecrets } from './secret-mask';

/** Secret values this process holds in plaintext (an executor's decrypted job secrets): never in a log line. */
const hidden = new Set<string>();
/**
 * Bounded: an executor that ran the jobs of many secrets keeps the newest ones. Each line is searched for each value
 * (a few microseconds for a hundred values, milliseconds at this bound), so the bound also caps a line's cost.
 */
const MAX_HIDDEN = 10_000;
/** The values as masking reads them (text lines, and as they appear inside JSON strings), rebuilt on a change. */
let prepared: { text: readonly string[]; json: readonly string[] } | null = null;

function masks(): { text: readonly string[]; json: readonly string[] } {
  prepared ??= {
    text: prepareSecrets(hidden),
    json: prepareSecrets([...hidden].flatMap((v) => [v, JSON.stringify(v).slice(1, -1)])),
  };
  return prepared;
}

/** Masks these values in every line this process's logger writes, whatever message or error carries them. */
export function hideInLogs(values: Iterable<string>): void {
  for (const v of values) {
    if (!hidden.has(v)) prepared = null;
    hidden.delete(v);
    hidden.add(v);
  }
  for (const v of hidden) {
    if (hidden.size <= MAX_HIDDEN) break;
    hidden.delete(v);
    prepared = null;
  }
}

/**
 * Structured log lines: services log `{ msg, jobId, runId, scheduledAt, executorId }`. For people, one line
 * `msg key=value …`; for log shippers (GOCRON_LOG_FORMAT=json or NODE_ENV=production) one JSON object per line.
 */
class AppLogger extends ConsoleLogger {
  protected override stringifyJsonLogObject(logObject: Record<string, unknown>): string {
    const line = super.stringifyJsonLogObject(logObject);
    return hidden.size > 0 ? maskPrepared(line, masks().json) : line;
  }

  // Stacks pass through printStackTrace, not stringifyMessage.
  protected override printStackTrace(stack: string): void {
    super.printStackTrace(hidden.size > 0 ? maskPrepared(stack, masks().text) : stack);
  }

  protected override stringifyMessage(message: unknown, logLevel: LogLevel): string {
    const line = this.plainMessage(message, logLevel);
    return hidden.size > 0 ? maskPrepared(line, masks().text) : line;
  }

  private plainMessage(message: unknown, logLevel: LogLevel): string {
    if (!this.options.json && message && typeof message === 'object' && 'msg' in message) {
      const { msg, ...fields } = message as Record<string, unknown>;
      const pairs = Object.entries(fields)
        .filter(([, v]) => v !== undefined && v !== null)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
      return super.stringifyMessage([String(msg), ...pairs].join(' '), logLevel) as string;
    }
    return super.stringifyMessage(message, logLevel) as string;
  }
}

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/** Whether the process's logger prints `debug` lines: true until createAppLogger says otherwise. */
let debugLines = true;

/**
 * False when `debug` lines are not printed: a line per run is then not built at all (its fields, an ISO date), which
 * at a thousand runs a second is work for nothing. Until the app's logger is created (unit tests), true.
 */
export function logsDebug(): boolean {
  return debugLines;
}

/** GOCRON_LOG_LEVEL (default `log`): that level and everything more severe. `debug` adds a line per run. */
export function createAppLogger(): LoggerService {
  const json = process.env.GOCRON_LOG_FORMAT === 'json' || process.env.NODE_ENV === 'production';
  const wanted = (process.env.GOCRON_LOG_LEVEL ?? 'log') as LogLevel;
  const upTo = LEVELS.includes(wanted) ? LEVELS.indexOf(wanted) : LEVELS.indexOf('log');
  debugLines = upTo >= LEVELS.indexOf('debug');
  return new AppLogger({ json, colors: !json && process.stdout.isTTY, logLevels: LEVELS.slice(0, upTo + 1) });
}

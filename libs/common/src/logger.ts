import { ConsoleLogger, LoggerService, LogLevel } from '@nestjs/common';

/**
 * Structured log lines: services log `{ msg, jobId, runId, scheduledAt, executorId }`. For people, one line
 * `msg key=value …`; for log shippers (GOCRON_LOG_FORMAT=json or NODE_ENV=production) one JSON object per line.
 */
class AppLogger extends ConsoleLogger {
  protected override stringifyMessage(message: unknown, logLevel: LogLevel): string {
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

/** GOCRON_LOG_LEVEL (default `log`): that level and everything more severe. `debug` adds a line per run. */
export function createAppLogger(): LoggerService {
  const json = process.env.GOCRON_LOG_FORMAT === 'json' || process.env.NODE_ENV === 'production';
  const wanted = (process.env.GOCRON_LOG_LEVEL ?? 'log') as LogLevel;
  const upTo = LEVELS.includes(wanted) ? LEVELS.indexOf(wanted) : LEVELS.indexOf('log');
  return new AppLogger({ json, colors: !json && process.stdout.isTTY, logLevels: LEVELS.slice(0, upTo + 1) });
}

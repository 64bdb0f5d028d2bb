// The next 5 fire times of the schedule being typed, in the job's zone, from GET /api/cron/next (debounced).
import { api, ApiError, errorText } from '../lib/api';
import { browserTimeZone, formatClock, formatDateTime } from '../lib/format';
import { useDebounced } from '../hooks/use-now';
import { useResource } from '../hooks/use-resource';
import { RelTime } from './rel-time';
import './cron-preview.css';

export function CronPreview({
  cron,
  timezone,
  emptyText = 'Type a schedule to see when it fires.',
}: {
  cron: string;
  timezone: string;
  /** Said while no schedule is typed (a job with parents may have none). */
  emptyText?: string;
}) {
  const expr = useDebounced(cron.trim(), 300);
  const tz = useDebounced(timezone.trim() || 'UTC', 300);
  // The answer keeps the zone it was computed in: while a new one loads, the old times stay labelled right.
  const preview = useResource(
    async (signal) => (expr ? { tz, next: (await api.cronNext(expr, tz, 5, signal)).next } : null),
    [expr, tz],
  );
  const local = browserTimeZone();
  const refused = preview.error instanceof ApiError && preview.error.status === 400;

  return (
    <section className="preview" id="cron-preview" aria-labelledby="cron-preview-title" aria-live="polite">
      <h3 id="cron-preview-title">
        Next fire times <span className="muted">in {preview.error === undefined ? (preview.data?.tz ?? tz) : tz}</span>
      </h3>
      {!expr && <p className="muted">{emptyText}</p>}
      {expr && preview.loading && !preview.data && !preview.error && <p className="muted">Computing…</p>}
      {refused && <p className="preview-error">{errorText(preview.error).replace(/^expr: /, '')}</p>}
      {preview.error !== undefined && !refused && (
        <p className="preview-error">Preview unavailable: {errorText(preview.error)}</p>
      )}
      {preview.data && preview.error === undefined && preview.data.next.length === 0 && (
        <p className="preview-error">This schedule never fires.</p>
      )}
      {preview.data && preview.error === undefined && preview.data.next.length > 0 && (
        <ol className="preview-list">
          {preview.data.next.map((iso) => (
            <li key={iso}>
              <span className="preview-time">{formatDateTime(iso, preview.data?.tz)}</span>
              <span className="muted">
                <RelTime iso={iso} />
                {local !== preview.data?.tz && <> · {formatClock(iso, local, preview.data?.tz ?? 'UTC')} your time</>}
              </span>
            </li>
          ))}
        </ol>
      )}
      {expr.startsWith('@every') && (
        <p className="hint">@every counts from when the schedule is saved, the same on every dispatcher.</p>
      )}
    </section>
  );
}

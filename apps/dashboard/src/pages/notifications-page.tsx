// Notification deliveries, newest first: where each went (masked: a webhook or Slack URL is a credential), its
// state, attempts and last error; filtered by state, paged like the audit log.
import { NOTIFICATION_STATUSES, type NotificationJson, type NotificationStatus } from '@app/contract';
import { api } from '../lib/api';
import { formatDateTime, formatShort } from '../lib/format';
import { href, replaceRoute, Route } from '../hooks/router';
import { useInterval } from '../hooks/live';
import { useResource } from '../hooks/use-resource';
import { Pager } from '../components/pager';
import { Empty, ErrorState, Loading } from '../components/states';
import './audit-page.css';

const PAGE = 50;

const isStatus = (s: string | null): s is NotificationStatus =>
  s !== null && (NOTIFICATION_STATUSES as readonly string[]).includes(s);

export function NotificationsPage({ route }: { route: Route }) {
  const raw = route.query.get('status');
  const status = isStatus(raw) ? raw : undefined;
  const offset = Number(route.query.get('offset') ?? 0) || 0;
  const setFilter = (changes: Record<string, string | number | undefined>) =>
    replaceRoute(href('/notifications', { status, ...changes }));

  const page = useResource((signal) => api.notifications({ limit: PAGE, offset, status }, signal), [status, offset]);
  // Deliveries change without a run or job event of their own: look again every few seconds.
  useInterval(page.reload, 5000);

  return (
    <>
      <header className="page-header">
        <h1>Notifications</h1>
      </header>
      <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          <span>State</span>
          <select
            value={status ?? ''}
            onChange={(e) => setFilter({ status: e.target.value || undefined, offset: undefined })}
          >
            <option value="">Any state</option>
            {NOTIFICATION_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
      </form>

      {page.error !== undefined && <ErrorState error={page.error} retry={page.reload} what="the notifications" />}
      {page.loading && !page.data && <Loading what="the notifications" />}
      {page.data && page.data.total === 0 && (
        <Empty title={status ? `No ${status} notifications.` : 'No notifications yet.'}>
          <p>
            Failed, timed-out, lost and missed runs (and recoveries) are notified on the channels of{' '}
            <code>[notify]</code> or of the job's own settings.
          </p>
        </Empty>
      )}
      {page.data && page.data.items.length > 0 && (
        <>
          <div className="table-wrap">
            <table className="table responsive table-notifications" aria-busy={page.loading}>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Event</th>
                  <th scope="col">Run</th>
                  <th scope="col">Channel</th>
                  <th scope="col">State</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Detail</th>
                </tr>
              </thead>
              <tbody>
                {page.data.items.map((n) => (
                  <tr key={n.id} data-notification={n.id} data-status={n.status} data-channel={n.channel}>
                    <td data-label="When">
                      <time dateTime={n.createdAt} title={formatDateTime(n.createdAt)}>
                        {formatShort(n.createdAt)}
                      </time>
                    </td>
                    <td data-label="Event">
                      <code>{n.event}</code>
                    </td>
                    <td data-label="Run">
                      <a href={href(`/jobs/${n.jobId}/runs/${n.runId}`)}>run #{n.runId}</a>{' '}
                      <span className="muted">
                        of <a href={href(`/jobs/${n.jobId}`)}>job #{n.jobId}</a>
                      </span>
                    </td>
                    <td data-label="Channel">
                      {n.channel} <span className="muted mono">{n.target}</span>
                    </td>
                    <td data-label="State">
                      <span className={`badge badge-${n.status === 'sent' ? 'succeeded' : n.status}`}>{n.status}</span>
                    </td>
                    <td data-label="Attempts">{n.attempts}</td>
                    <td data-label="Detail">
                      <Detail n={n} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager
            offset={offset}
            limit={PAGE}
            total={page.data.total}
            capped={page.data.totalCapped}
            shown={page.data.items.length}
            what="notifications"
            onChange={(o) => setFilter({ offset: o || undefined })}
          />
        </>
      )}
    </>
  );
}

function Detail({ n }: { n: NotificationJson }) {
  const parts: string[] = [];
  if (n.foldedInto !== null) parts.push(`folded into #${n.foldedInto}`);
  if (n.folded > 0) parts.push(`+${n.folded} folded in`);
  if (n.nextAttemptAt) parts.push(`next attempt ${formatShort(n.nextAttemptAt)}`);
  if (n.sentAt) parts.push(`sent ${formatShort(n.sentAt)}`);
  return (
    <div className="audit-change">
      {parts.length > 0 && <p className="audit-detail">{parts.join(' · ')}</p>}
      {n.lastError && <p className="audit-detail error-text">{n.lastError}</p>}
      {parts.length === 0 && !n.lastError && <span className="muted">—</span>}
    </div>
  );
}

// The audit log (admins only): who did what, when and from where, newest first; filtered by actor, action and
// job, paged like the runs list; each change shown as the fields it changed, the full JSON a click away.
import { useEffect, useState } from 'react';
import { api } from '../lib/api';
import { AUDIT_ACTIONS, AuditEntryJson } from '../lib/auth';
import { changesOf, compactJson } from '../lib/audit-diff';
import { formatDateTime, formatShort } from '../lib/format';
import { href, replaceRoute, Route } from '../hooks/router';
import { useLiveRefresh } from '../hooks/live';
import { useDebounced } from '../hooks/use-now';
import { useResource } from '../hooks/use-resource';
import { Pager } from '../components/pager';
import { Empty, ErrorState, Loading } from '../components/states';
import './audit-page.css';

const PAGE = 50;
/** Changes listed before "and N more" (the JSON has them all). */
const SHOWN_CHANGES = 6;

export function AuditPage({ route }: { route: Route }) {
  const query = route.query;
  const [actorText, setActorText] = useState(query.get('actor') ?? '');
  const [jobText, setJobText] = useState(query.get('job') ?? '');
  const actor = useDebounced(actorText.trim(), 300);
  const job = useDebounced(jobText.trim(), 300);
  const jobId = Number(job) > 0 ? Number(job) : undefined;
  const action = query.get('action') ?? '';
  const offset = Number(query.get('offset') ?? 0) || 0;

  const setFilter = (changes: Record<string, string | number | undefined>) =>
    replaceRoute(href('/audit', { actor: actor || undefined, action: action || undefined, job: jobId, ...changes }));
  // Only the debounced text fields write to the URL (and go back to the first page).
  useEffect(() => {
    if ((query.get('actor') ?? '') !== actor || (query.get('job') ?? '') !== (jobId ? String(jobId) : ''))
      setFilter({ offset: undefined });
  }, [actor, jobId]);

  const entries = useResource(
    (signal) =>
      api.audit({ limit: PAGE, offset, actor: actor || undefined, action: action || undefined, jobId }, signal),
    [actor, action, jobId, offset],
  );
  // Job changes are audited as they happen: look again when one is announced.
  useLiveRefresh(entries.reload, (e) => e.type === 'job');
  const filtered = Boolean(actor || action || jobId);

  return (
    <>
      <header className="page-header">
        <h1>Audit log</h1>
      </header>
      <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          <span>Actor</span>
          <input
            value={actorText}
            placeholder="Username"
            autoComplete="off"
            spellCheck={false}
            onChange={(e) => setActorText(e.target.value)}
          />
        </label>
        <label>
          <span>Action</span>
          <select value={action} onChange={(e) => setFilter({ action: e.target.value || undefined })}>
            <option value="">Any action</option>
            {AUDIT_ACTIONS.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </label>
        <label>
          <span>Job id</span>
          <input
            className="audit-job"
            type="number"
            min={1}
            inputMode="numeric"
            value={jobText}
            onChange={(e) => setJobText(e.target.value)}
          />
        </label>
        {filtered && (
          <button
            type="button"
            className="button button-quiet"
            onClick={() => {
              setActorText('');
              setJobText('');
              replaceRoute(href('/audit'));
            }}
          >
            Clear filters
          </button>
        )}
      </form>

      {entries.error !== undefined && <ErrorState error={entries.error} retry={entries.reload} what="the audit log" />}
      {entries.loading && !entries.data && <Loading what="the audit log" />}
      {entries.data && entries.data.total === 0 && (
        <Empty title={filtered ? 'No entries match these filters.' : 'The audit log is empty.'}>
          <p>Changes to jobs, users and tokens, runs triggered or cancelled, and sign-ins are recorded here.</p>
        </Empty>
      )}
      {entries.data && entries.data.items.length > 0 && (
        <>
          <div className="table-wrap">
            <table className="table responsive table-audit" aria-busy={entries.loading}>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Action</th>
                  <th scope="col">Target</th>
                  <th scope="col">Address</th>
                  <th scope="col">Change</th>
                </tr>
              </thead>
              <tbody>
                {entries.data.items.map((e) => (
                  <tr key={e.id} data-audit={e.id} data-action={e.action}>
                    <td data-label="When">
                      <time dateTime={e.at} title={formatDateTime(e.at)}>
                        {formatShort(e.at)}
                      </time>
                    </td>
                    <td data-label="Actor">{e.actor ?? <span className="muted">anonymous</span>}</td>
                    <td data-label="Action">
                      <code className={`audit-action audit-${e.action.split('.')[0]}`}>{e.action}</code>
                    </td>
                    <td data-label="Target">
                      <Target entry={e} />
                    </td>
                    <td data-label="Address" className="mono ellipsis" title={e.address}>
                      {e.address}
                    </td>
                    <td data-label="Change">
                      <Change entry={e} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager
            offset={offset}
            limit={PAGE}
            total={entries.data.total}
            capped={entries.data.totalCapped}
            shown={entries.data.items.length}
            what="entries"
            onChange={(o) => setFilter({ offset: o || undefined })}
          />
        </>
      )}
    </>
  );
}

function Target({ entry: e }: { entry: AuditEntryJson }) {
  const job = e.jobId !== null && <a href={href(`/jobs/${e.jobId}`)}>job #{e.jobId}</a>;
  switch (e.targetType) {
    case 'job':
      return <a href={href(`/jobs/${e.targetId ?? e.jobId ?? ''}`)}>job #{e.targetId ?? e.jobId}</a>;
    case 'run':
      return e.jobId !== null ? (
        <>
          <a href={href(`/jobs/${e.jobId}/runs/${e.targetId}`)}>run #{e.targetId}</a>{' '}
          <span className="muted">of {job}</span>
        </>
      ) : (
        <>run #{e.targetId}</>
      );
    case 'user':
      return <a href={href('/users')}>user #{e.targetId}</a>;
    case 'token':
      return <>token #{e.targetId}</>;
    case 'session':
      return <>session{e.targetId !== null && ` #${e.targetId}`}</>;
    case null:
      return job || <span className="muted">—</span>;
  }
}

function Change({ entry: e }: { entry: AuditEntryJson }) {
  const changes = changesOf(e.before, e.after);
  const hasJson = e.before !== null || e.after !== null;
  if (!hasJson && !e.detail) return <span className="muted">—</span>;
  return (
    <div className="audit-change">
      {e.detail && <p className="audit-detail">{e.detail}</p>}
      {changes.length > 0 && (
        <ul className="audit-diff">
          {changes.slice(0, SHOWN_CHANGES).map((c) => (
            <li key={c.path} className={`diff-${c.kind}`}>
              <span className="diff-path">{c.path}</span>{' '}
              {c.kind === 'changed' && (
                <>
                  <span className="diff-before" title={JSON.stringify(c.before)}>
                    {compactJson(c.before, 40)}
                  </span>{' '}
                  →{' '}
                  <span className="diff-after" title={JSON.stringify(c.after)}>
                    {compactJson(c.after, 40)}
                  </span>
                </>
              )}
              {c.kind === 'added' && (
                <span className="diff-after" title={JSON.stringify(c.after)}>
                  {compactJson(c.after)}
                </span>
              )}
              {c.kind === 'removed' && (
                <span className="diff-before" title={JSON.stringify(c.before)}>
                  {compactJson(c.before)}
                </span>
              )}
            </li>
          ))}
          {changes.length > SHOWN_CHANGES && <li className="muted">and {changes.length - SHOWN_CHANGES} more</li>}
        </ul>
      )}
      {hasJson && changes.length === 0 && <p className="muted">no field changed</p>}
      {hasJson && (
        <details className="audit-json">
          <summary>JSON</summary>
          <pre>{JSON.stringify({ before: e.before, after: e.after }, null, 2)}</pre>
        </details>
      )}
    </div>
  );
}

// One run in full: its times, result and output (head and tail when it was longer than 64 KiB), and the runs beside
// it in the dependency graph. While the run is pending or running its output is followed live (server-sent events)
// and appended as it arrives; once it is final, the recorded output is shown.
import { useEffect, useRef, useState } from 'react';
import { isActive, RunDetailJson, RunJson } from '@app/contract';
import { runHref } from '../lib/dependency-words';
import { formatDateTime, formatDuration, formatLag, humanize } from '../lib/format';
import { useLiveOutput } from '../hooks/live-output';
import { href } from '../hooks/router';
import { useCan } from '../hooks/session';
import { StatusBadge } from './status-badge';
import { AsyncButton } from './async-button';
import { RunLinks } from './run-links';
import './output-viewer.css';

export function OutputViewer({
  run,
  onCancel,
  closeHref,
}: {
  run: RunDetailJson;
  onCancel: (run: RunJson) => Promise<void>;
  closeHref: string;
}) {
  const [wrap, setWrap] = useState(true);
  const can = useCan();
  const active = isActive(run.status);
  const live = useLiveOutput(run.id, active);
  // The live text until the run (as this page has it) is final; then what was recorded.
  const following = active && (live.live || live.text !== '' || live.ended !== null);
  const text = following ? live.text : run.output;
  const pre = useRef<HTMLPreElement>(null);
  const atBottom = useRef(true);
  useEffect(() => {
    // Keeps the newest line in view while following, unless the reader scrolled up.
    if (following && atBottom.current && pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [following, text]);
  const result =
    run.httpStatus !== null ? `HTTP ${run.httpStatus}` : run.exitCode !== null ? `exit code ${run.exitCode}` : null;
  return (
    <section className="card output" aria-labelledby="output-title" id="run-output">
      <header className="output-header">
        <h2 id="output-title" tabIndex={-1}>
          Run #{run.id} <StatusBadge status={run.status} />
        </h2>
        <div className="actions">
          {isActive(run.status) && can('operator') && (
            <AsyncButton className="button button-danger-quiet" onClick={() => onCancel(run)}>
              Cancel run
            </AsyncButton>
          )}
          <a className="button button-quiet" href={closeHref}>
            Close
          </a>
        </div>
      </header>
      <div className="output-body">
        <dl className="facts">
          <dt>Trigger</dt>
          <dd data-trigger={run.trigger}>
            {humanize(run.trigger)}
            <ParentRuns run={run} />, attempt {run.attempt}
          </dd>
          <dt>Scheduled</dt>
          <dd>{formatDateTime(run.scheduledAt)}</dd>
          <dt>Started</dt>
          <dd>
            {formatDateTime(run.startedAt)}
            {run.startedAt && <span className="muted"> ({formatLag(run.scheduledAt, run.startedAt)} late)</span>}
          </dd>
          <dt>Finished</dt>
          <dd>{formatDateTime(run.finishedAt)}</dd>
          <dt>Duration</dt>
          <dd>{formatDuration(run.durationMs)}</dd>
          <dt>Result</dt>
          <dd>{result ?? '—'}</dd>
          <dt>Executor</dt>
          <dd className="mono">{run.executorId ?? '—'}</dd>
          <dt>Dispatcher</dt>
          <dd className="mono">{run.dispatcherId ?? '—'}</dd>
        </dl>
        <div className="output-main">
          {run.error && (
            <p className="run-error">
              <strong>Error:</strong> {run.error}
            </p>
          )}
          <div className="output-toolbar">
            <h3>
              Output{' '}
              {active && live.live && (
                <span
                  className="live live-live output-live"
                  data-live="following"
                  title="Following the output as it is written"
                >
                  <span className="dot" aria-hidden="true" />
                  live
                </span>
              )}
            </h3>
            <label className="field-check">
              <input type="checkbox" checked={wrap} onChange={(e) => setWrap(e.target.checked)} /> Wrap lines
            </label>
          </div>
          {!following && run.outputTruncated && (
            <p className="hint">The output was longer than 64 KiB: its head and tail are kept.</p>
          )}
          {following && live.trimmed && (
            <p className="hint">Some earlier output is not shown here; the recorded head and tail come when it ends.</p>
          )}
          {active && live.failed && <p className="hint">Live output unavailable: {live.failed}.</p>}
          {text ? (
            <pre
              ref={pre}
              className={`output-text${wrap ? ' wrap' : ''}`}
              tabIndex={0}
              aria-label={`Output of run ${run.id}`}
              aria-live={following ? 'polite' : undefined}
              onScroll={(e) => {
                const el = e.currentTarget;
                atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
              }}
            >
              {text}
            </pre>
          ) : (
            <p className="muted">
              {active
                ? live.live
                  ? 'No output yet: it appears here as the run writes it.'
                  : 'No output yet: it is recorded when the run ends.'
                : 'This run wrote no output.'}
            </p>
          )}
        </div>
      </div>
      <RunLinks run={run} />
    </section>
  );
}

/** A dependency run: " after #12, #13", each parent run linked where the answer has it. */
function ParentRuns({ run }: { run: RunDetailJson }) {
  const ids = run.parentRunIds ?? [];
  if (run.trigger !== 'dependency' || ids.length === 0) return null;
  const byId = new Map((run.upstream ?? []).map((l) => [l.id, l]));
  return (
    <>
      {' after '}
      {ids.map((id, i) => {
        const link = byId.get(id);
        return (
          <span key={id}>
            {i > 0 && ', '}
            {link ? (
              <a href={href(runHref(link))} title={link.jobName ?? undefined}>
                #{id}
              </a>
            ) : (
              `#${id}`
            )}
          </span>
        );
      })}
    </>
  );
}

// One run in full: its times, result and output (head and tail when it was longer than 64 KiB).
import { useState } from 'react';
import { isActive, RunJson } from '@app/contract';
import { formatDateTime, formatDuration, formatLag, humanize } from '../lib/format';
import { useCan } from '../hooks/session';
import { StatusBadge } from './status-badge';
import { AsyncButton } from './async-button';
import './output-viewer.css';

export function OutputViewer({
  run,
  onCancel,
  closeHref,
}: {
  run: RunJson;
  onCancel: (run: RunJson) => Promise<void>;
  closeHref: string;
}) {
  const [wrap, setWrap] = useState(true);
  const can = useCan();
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
          <dd>
            {humanize(run.trigger)}, attempt {run.attempt}
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
            <h3>Output</h3>
            <label className="field-check">
              <input type="checkbox" checked={wrap} onChange={(e) => setWrap(e.target.checked)} /> Wrap lines
            </label>
          </div>
          {run.outputTruncated && (
            <p className="hint">The output was longer than 64 KiB: its head and tail are kept.</p>
          )}
          {run.output ? (
            <pre className={`output-text${wrap ? ' wrap' : ''}`} tabIndex={0} aria-label={`Output of run ${run.id}`}>
              {run.output}
            </pre>
          ) : (
            <p className="muted">
              {isActive(run.status) ? 'No output yet: it is recorded when the run ends.' : 'This run wrote no output.'}
            </p>
          )}
        </div>
      </div>
    </section>
  );
}

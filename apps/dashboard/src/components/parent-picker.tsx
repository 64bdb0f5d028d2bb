// The job form's parents: the jobs picked, each with the condition on which its finished run starts this job, and a
// search by name (GET /api/jobs?q=) to add more. Buttons all the way, so the keyboard does everything: Enter in the
// search adds the first match instead of sending the form.
import { useRef, useState } from 'react';
import { DEPENDENCY_CONDITIONS, DependencyCondition, JobJson, MAX_PARENTS } from '@app/contract';
import { api, errorText } from '../lib/api';
import { CONDITION_WORDS } from '../lib/dependency-words';
import type { ParentRow } from '../lib/job-form';
import { useDebounced } from '../hooks/use-now';
import { useResource } from '../hooks/use-resource';
import { FieldMessages } from './key-value-editor';
import './parent-picker.css';

const MATCHES = 8;

export function ParentPicker({
  id,
  selfId,
  parents,
  onChange,
  errors,
}: {
  id: string;
  /** The job being edited (never its own parent); undefined for a new job. */
  selfId?: number;
  parents: ParentRow[];
  onChange: (parents: ParentRow[]) => void;
  errors?: string[];
}) {
  const [query, setQuery] = useState('');
  const [said, setSaid] = useState('');
  const search = useRef<HTMLInputElement>(null);
  const q = useDebounced(query.trim(), 250);
  // A few more than shown: the job itself and those picked already are left out.
  const found = useResource(
    (signal) =>
      q ? api.listJobs({ q, limit: MATCHES + 1 + Math.min(parents.length, 20) }, signal) : Promise.resolve(null),
    [q],
  );
  const picked = new Set(parents.map((p) => p.jobId));
  const matches = (found.data?.items ?? []).filter((j) => j.id !== selfId && !picked.has(j.id)).slice(0, MATCHES);
  const full = parents.length >= MAX_PARENTS;
  const nameOf = (p: ParentRow) => p.name ?? `job #${p.jobId}`;
  const errorId = `${id}-error`;
  const resultsId = `${id}-results`;

  const add = (job: JobJson) => {
    onChange([...parents, { jobId: job.id, name: job.name, on: 'success' }]);
    setSaid(`Added ${job.name} as a parent, on success.`);
  };
  const remove = (i: number) => {
    setSaid(`Removed ${nameOf(parents[i])} from the parents.`);
    onChange(parents.filter((_, j) => j !== i));
    search.current?.focus();
  };
  const setOn = (i: number, on: DependencyCondition) => onChange(parents.map((p, j) => (j === i ? { ...p, on } : p)));

  return (
    <fieldset
      className={`parents field${errors ? ' invalid' : ''}`}
      id={id}
      aria-describedby={errors ? `${errorId} ${id}-hint` : `${id}-hint`}
    >
      <legend>Parent jobs</legend>
      <p className="hint" id={`${id}-hint`}>
        This job runs when a parent&apos;s run finishes as chosen, beside its schedule or instead of it. Failure:
        failed, timed out or lost on its last attempt; skipped, missed and cancelled runs start nothing. At most{' '}
        {MAX_PARENTS}; a cycle is refused when saved.
      </p>
      {parents.length > 0 ? (
        <ul className="parent-rows" aria-label="Parents picked">
          {parents.map((p, i) => (
            <li key={p.jobId} className="parent-row" data-parent={p.jobId}>
              <span className="parent-name" title={`job #${p.jobId}`}>
                {nameOf(p)}
              </span>
              <select
                aria-label={`Condition for ${nameOf(p)}`}
                value={p.on}
                onChange={(e) => setOn(i, e.target.value as DependencyCondition)}
              >
                {DEPENDENCY_CONDITIONS.map((c) => (
                  <option key={c} value={c}>
                    {CONDITION_WORDS[c]}
                  </option>
                ))}
              </select>
              <button
                type="button"
                className="button button-quiet"
                aria-label={`Remove parent ${nameOf(p)}`}
                onClick={() => remove(i)}
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      ) : (
        <p className="muted parent-none">No parents: the job runs on its schedule only.</p>
      )}
      <div className="parent-search">
        <label htmlFor={`${id}-search`}>Add a parent</label>
        <input
          ref={search}
          id={`${id}-search`}
          type="search"
          placeholder={full ? `${MAX_PARENTS} parents: remove one to add another` : 'Search jobs by name'}
          value={query}
          disabled={full}
          autoComplete="off"
          spellCheck={false}
          aria-controls={resultsId}
          onChange={(e) => setQuery(e.target.value)}
          onKeyDown={(e) => {
            if (e.key !== 'Enter') return;
            e.preventDefault(); // not the form's submit
            if (matches.length > 0 && q === query.trim()) add(matches[0]);
          }}
        />
      </div>
      <ul className="parent-results" id={resultsId} aria-label="Matching jobs">
        {!full &&
          matches.map((j) => (
            <li key={j.id}>
              <button type="button" className="button" aria-label={`Add ${j.name} as a parent`} onClick={() => add(j)}>
                Add <strong>{j.name}</strong>
              </button>{' '}
              <span className="muted mono">{j.cron || 'no schedule'}</span>
              {!j.enabled && <span className="muted"> · paused</span>}
            </li>
          ))}
      </ul>
      {q && found.data && matches.length === 0 && <p className="hint">No other job matches “{q}”.</p>}
      {found.error !== undefined && <p className="hint">Could not search the jobs: {errorText(found.error)}</p>}
      <p className="visually-hidden" aria-live="polite" data-announce="parents">
        {said}
      </p>
      {errors && <FieldMessages id={errorId} messages={errors} />}
    </fieldset>
  );
}

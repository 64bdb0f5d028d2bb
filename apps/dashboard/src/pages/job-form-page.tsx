// Create and edit a job: every field of the contract, the API's 400 messages beside the fields they name (a cycle
// of parents among them), a live preview of the schedule, and the parents it waits for.
import { FormEvent, ReactNode, useMemo, useRef, useState } from 'react';
import {
  CONCURRENCY_POLICIES,
  DEPENDENCY_MODES,
  HTTP_METHODS,
  JobJson,
  MISFIRE_POLICIES,
  NOTIFY_EVENTS,
  NotifyEvent,
  ROUTINGS,
} from '@app/contract';
import { api, ApiError, errorText } from '../lib/api';
import { cronToWords } from '../lib/cron-words';
import { splitByField, FieldErrors } from '../lib/field-errors';
import { MODE_WORDS } from '../lib/dependency-words';
import { browserTimeZone, formatDuration, timeZones } from '../lib/format';
import {
  bodyOf,
  FORM_FIELDS,
  FormField,
  formOf,
  formProblems,
  JobForm,
  NEW_JOB,
  WINDOW_UNITS,
  WindowUnit,
  windowMsOf,
} from '../lib/job-form';
import { href, navigate } from '../hooks/router';
import { useResource } from '../hooks/use-resource';
import { useCan } from '../hooks/session';
import { CronPreview } from '../components/cron-preview';
import { FieldMessages, KeyValueEditor } from '../components/key-value-editor';
import { ParentPicker } from '../components/parent-picker';
import { ErrorState, Loading } from '../components/states';
import { useToast } from '../components/toasts';
import './job-form-page.css';

const CONCURRENCY_HELP: Record<(typeof CONCURRENCY_POLICIES)[number], string> = {
  forbid: 'forbid: skip the tick (recorded as skipped)',
  allow: 'allow: run beside it',
  replace: 'replace: cancel the old run, start the new one',
};
const MISFIRE_HELP: Record<(typeof MISFIRE_POLICIES)[number], string> = {
  once: 'once: fire once, for the latest missed tick',
  skip: 'skip: drop them (recorded)',
  all: 'all: fire each (at most 100)',
};
const EVENT_LABEL: Record<NotifyEvent, string> = {
  failed: 'failed',
  timed_out: 'timed out',
  lost: 'lost',
  missed: 'missed tick',
  recovered: 'recovered',
  succeeded: 'succeeded',
};
const UNIT_LABEL: Record<WindowUnit, string> = { s: 'seconds', min: 'minutes', h: 'hours', d: 'days' };
const ROUTING_HELP: Record<(typeof ROUTINGS)[number], string> = {
  round_robin: 'round robin',
  random: 'random',
  least_busy: 'least busy',
  consistent_hash: 'consistent hash: the same executor while it is up',
  broadcast: 'broadcast: one run on every executor of the group',
};

export function JobFormPage({ jobId }: { jobId?: number }) {
  const job = useResource((signal) => (jobId ? api.getJob(jobId, signal) : Promise.resolve(null)), [jobId]);
  const can = useCan();
  if (!can('admin'))
    return (
      <div className="state state-empty">
        <p className="state-title">Only admins create and edit jobs.</p>
        <p>
          Your role does not include it.{' '}
          {jobId ? <a href={href(`/jobs/${jobId}`)}>Back to the job</a> : <a href={href('/jobs')}>Back to the jobs</a>}.
        </p>
      </div>
    );
  if (jobId === undefined) return <JobEditor initial={NEW_JOB} />;
  if (job.error !== undefined) return <ErrorState error={job.error} retry={job.reload} what={`job ${jobId}`} />;
  if (!job.data) return <Loading what="the job" />;
  return <JobEditor key={job.data.id} job={job.data} initial={formOf(job.data)} />;
}

/** A 412: the job changed (elsewhere) since this form loaded it; saving would undo that change, so nothing was saved. */
const STALE_MESSAGE =
  'Someone changed this job after you opened it, so your edit was not saved (it would have undone theirs). ' +
  'Reload the page to see the current job, then make your change again.';

const fieldId = (f: FormField) => `f-${f.replace('.', '-')}`;

function JobEditor({ job, initial }: { job?: JobJson; initial: JobForm }) {
  const [form, setForm] = useState<JobForm>(initial);
  const [errors, setErrors] = useState<FieldErrors | null>(null);
  const [saving, setSaving] = useState(false);
  const summary = useRef<HTMLDivElement>(null);
  const toast = useToast();
  const zones = useMemo(timeZones, []);
  const executors = useResource((signal) => api.executors(signal), []);
  const groups = [...new Set(['default', ...(executors.data ?? []).map((e) => e.group)])];
  const localZone = browserTimeZone();
  // A job's `dependsOn` names its parents by id: their names, read once, for the picker's rows.
  const parentNames = useResource(async (signal) => {
    const named = await Promise.all(
      initial.parents.map((p) =>
        api.getJob(p.jobId, signal).then(
          (j) => [p.jobId, j.name] as const,
          () => [p.jobId, null] as const,
        ),
      ),
    );
    return new Map<number, string | null>(named);
  }, []);
  const parents = form.parents.map((p) => (p.name ? p : { ...p, name: parentNames.data?.get(p.jobId) ?? null }));
  const hasParents = form.parents.length > 0;

  const set = <K extends keyof JobForm>(key: K, value: JobForm[K]) => setForm((f) => ({ ...f, [key]: value }));
  const errorsOf = (...fields: FormField[]): string[] | undefined => {
    const list = fields.flatMap((f) => errors?.byField[f] ?? []);
    return list.length ? list : undefined;
  };

  /** Label, control, hint and the API's messages for one field; the control gets its id and ARIA from here. */
  const field = (
    name: FormField,
    label: string,
    control: (p: { id: string; 'aria-invalid'?: true; 'aria-describedby'?: string }) => ReactNode,
    hint?: ReactNode,
    also: FormField[] = [],
  ) => {
    const id = fieldId(name);
    const messages = errorsOf(name, ...also);
    const describedBy = [messages && `${id}-error`, hint && `${id}-hint`].filter(Boolean).join(' ') || undefined;
    return (
      <div className={`field${messages ? ' invalid' : ''}`}>
        <label htmlFor={id}>{label}</label>
        {control({ id, 'aria-invalid': messages ? true : undefined, 'aria-describedby': describedBy })}
        {hint && (
          <p className="hint" id={`${id}-hint`}>
            {hint}
          </p>
        )}
        {messages && <FieldMessages id={`${id}-error`} messages={messages} />}
      </div>
    );
  };

  /** Shows the problems, and takes the keyboard to the first field named, else to the summary. */
  const showProblems = (split: FieldErrors) => {
    setErrors(split);
    window.setTimeout(() => {
      const first = FORM_FIELDS.find((f) => split.byField[f]);
      const target = first && document.getElementById(fieldId(first === 'http' ? 'http.url' : first));
      const focusable = target?.matches('input, select, textarea') ? target : target?.querySelector('input');
      (focusable ?? summary.current)?.focus();
    });
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const problems = formProblems(form);
    if (problems) {
      showProblems(problems);
      return;
    }
    setSaving(true);
    try {
      const body = bodyOf(form);
      const saved = job ? await api.updateJob(job.id, job.version, body) : await api.createJob(body);
      toast(job ? `Saved ${saved.name}.` : `Created ${saved.name}.`);
      navigate(href(`/jobs/${saved.id}`));
    } catch (err) {
      const messages = err instanceof ApiError ? err.messages : [errorText(err)];
      const split =
        err instanceof ApiError && err.status === 412
          ? { byField: {}, general: [STALE_MESSAGE] }
          : err instanceof ApiError && err.status === 409
            ? { byField: { name: messages }, general: [] }
            : err instanceof ApiError && err.status === 400
              ? splitByField(messages, FORM_FIELDS)
              : { byField: {}, general: messages };
      setSaving(false);
      showProblems(split);
    }
  };

  const words = cronToWords(form.cron);
  const windowMs = windowMsOf(form);
  const problemCount = errors ? errors.general.length + Object.values(errors.byField).flat().length : 0;
  const title = job ? `Edit ${job.name}` : 'New job';

  return (
    <>
      <header className="page-header">
        <div>
          <p className="crumbs">
            <a href={href('/jobs')}>Jobs</a>
            {job && (
              <>
                {' / '}
                <a href={href(`/jobs/${job.id}`)}>{job.name}</a>
              </>
            )}
          </p>
          <h1>{title}</h1>
        </div>
      </header>

      <form className="job-form" noValidate onSubmit={(e) => void submit(e)}>
        {errors && problemCount > 0 && (
          <div className="form-summary" role="alert" tabIndex={-1} ref={summary}>
            <p>
              <strong>The job was not saved: {problemCount === 1 ? 'one problem' : `${problemCount} problems`}.</strong>{' '}
              {Object.keys(errors.byField).length > 0 && 'Each is shown beside its field.'}
            </p>
            {errors.general.length > 0 && (
              <ul>
                {errors.general.map((m) => (
                  <li key={m}>{m}</li>
                ))}
              </ul>
            )}
          </div>
        )}

        <div className="form-grid">
          <fieldset className="card">
            <legend>Job</legend>
            {field('name', 'Name', (p) => (
              <input
                {...p}
                value={form.name}
                maxLength={128}
                autoComplete="off"
                onChange={(e) => set('name', e.target.value)}
              />
            ))}
            {field('description', 'Description', (p) => (
              <textarea {...p} rows={2} value={form.description} onChange={(e) => set('description', e.target.value)} />
            ))}
            {field(
              'group',
              'Executor group',
              (p) => (
                <>
                  <input
                    {...p}
                    list="group-options"
                    value={form.group}
                    onChange={(e) => set('group', e.target.value)}
                  />
                  <datalist id="group-options">
                    {groups.map((g) => (
                      <option key={g} value={g} />
                    ))}
                  </datalist>
                </>
              ),
              'Executors of this group run the job.',
            )}
            {field(
              'routing',
              'Routing',
              (p) => (
                <select
                  {...p}
                  value={form.routing}
                  onChange={(e) => set('routing', e.target.value as JobForm['routing'])}
                >
                  {ROUTINGS.map((r) => (
                    <option key={r} value={r}>
                      {ROUTING_HELP[r]}
                    </option>
                  ))}
                </select>
              ),
              'Which executor of the group takes a run.',
            )}
            <div className={`field field-check${errorsOf('enabled') ? ' invalid' : ''}`}>
              <input
                id={fieldId('enabled')}
                type="checkbox"
                checked={form.enabled}
                onChange={(e) => set('enabled', e.target.checked)}
              />
              <label htmlFor={fieldId('enabled')}>Enabled (scheduled; a paused job runs only when triggered)</label>
              {errorsOf('enabled') && <FieldMessages id="f-enabled-error" messages={errorsOf('enabled') ?? []} />}
            </div>
          </fieldset>

          <fieldset className="card">
            <legend>Schedule</legend>
            {field(
              'cron',
              'Cron expression',
              (p) => (
                <input
                  {...p}
                  className="mono"
                  value={form.cron}
                  spellCheck={false}
                  autoComplete="off"
                  onChange={(e) => set('cron', e.target.value)}
                />
              ),
              <>
                {words ? <strong className="schedule-words">{words}. </strong> : null}5 fields (minute hour day month
                weekday), 6 with leading seconds, <code>@daily</code>, <code>@every 90s</code>.{' '}
                {hasParents
                  ? 'Optional: the job has parents, so leave it empty to run only after them.'
                  : 'Required unless the job has parents (see Dependencies).'}
              </>,
            )}
            {field(
              'timezone',
              'Time zone',
              (p) => (
                <div className="input-with-button">
                  <input
                    {...p}
                    list="zone-options"
                    value={form.timezone}
                    spellCheck={false}
                    autoComplete="off"
                    onChange={(e) => set('timezone', e.target.value)}
                  />
                  {form.timezone !== localZone && (
                    <button type="button" className="button button-quiet" onClick={() => set('timezone', localZone)}>
                      Use {localZone}
                    </button>
                  )}
                  <datalist id="zone-options">
                    {zones.map((z) => (
                      <option key={z} value={z} />
                    ))}
                  </datalist>
                </div>
              ),
              'IANA name; the cron fields are read in this zone, DST included.',
            )}
            <CronPreview
              cron={form.cron}
              timezone={form.timezone}
              emptyText={
                hasParents
                  ? 'No schedule: the job runs only after its parents.'
                  : 'Type a schedule to see when it fires, or pick parents under Dependencies.'
              }
            />
          </fieldset>

          <fieldset className="card">
            <legend>Dependencies</legend>
            <ParentPicker
              id={fieldId('dependsOn')}
              selfId={job?.id}
              parents={parents}
              onChange={(rows) => set('parents', rows)}
              errors={errorsOf('dependsOn')}
            />
            {(hasParents || errorsOf('dependencyMode', 'dependencyWindowMs')) && (
              <>
                {field(
                  'dependencyMode',
                  'With several parents, run',
                  (p) => (
                    <select
                      {...p}
                      value={form.dependencyMode}
                      onChange={(e) => set('dependencyMode', e.target.value as JobForm['dependencyMode'])}
                    >
                      {DEPENDENCY_MODES.map((m) => (
                        <option key={m} value={m}>
                          {MODE_WORDS[m]}
                        </option>
                      ))}
                    </select>
                  ),
                  'An occasion: the same scheduled time when the parents share a schedule, else the window below.',
                )}
                {field(
                  'dependencyWindowMs',
                  'Occasion window',
                  (p) => (
                    <div className="input-with-button">
                      <input
                        {...p}
                        type="number"
                        min={0}
                        step="any"
                        value={form.dependencyWindow}
                        onChange={(e) => set('dependencyWindow', e.target.value)}
                      />
                      <select
                        aria-label="Occasion window unit"
                        value={form.dependencyWindowUnit}
                        onChange={(e) => set('dependencyWindowUnit', e.target.value as WindowUnit)}
                      >
                        {(Object.keys(WINDOW_UNITS) as WindowUnit[]).map((u) => (
                          <option key={u} value={u}>
                            {UNIT_LABEL[u]}
                          </option>
                        ))}
                      </select>
                    </div>
                  ),
                  <>
                    With <em>all</em> and parents on different schedules: their runs within this of each other make one
                    occasion
                    {typeof windowMs === 'number' && windowMs > 0 ? ` (${formatDuration(windowMs)})` : ''}.
                  </>,
                )}
              </>
            )}
          </fieldset>

          <fieldset className="card">
            <legend>Task</legend>
            <div
              className={`field${errorsOf('type') ? ' invalid' : ''}`}
              role="radiogroup"
              aria-labelledby="type-label"
            >
              <span id="type-label" className="label">
                Type
              </span>
              <div className="segmented">
                {(['shell', 'http'] as const).map((t) => (
                  <label key={t} className={form.type === t ? 'selected' : ''}>
                    <input
                      type="radio"
                      name="type"
                      value={t}
                      checked={form.type === t}
                      onChange={() => set('type', t)}
                    />
                    {t === 'shell' ? 'Shell command' : 'HTTP request'}
                  </label>
                ))}
              </div>
              {errorsOf('type') && <FieldMessages id="f-type-error" messages={errorsOf('type') ?? []} />}
            </div>
            {form.type === 'shell' ? (
              <>
                {field(
                  'command',
                  'Command',
                  (p) => (
                    <textarea
                      {...p}
                      className="mono"
                      rows={4}
                      value={form.command}
                      spellCheck={false}
                      onChange={(e) => set('command', e.target.value)}
                    />
                  ),
                  <>
                    Run with <code>/bin/sh -c</code> on the executor; it sees <code>GOCRON_JOB_ID</code>,{' '}
                    <code>GOCRON_RUN_ID</code>, <code>GOCRON_SCHEDULED_AT</code>, <code>GOCRON_ATTEMPT</code>.
                  </>,
                )}
                <KeyValueEditor
                  id={fieldId('env')}
                  legend="Environment"
                  hint="Extra variables for the command, beside PATH, HOME, LANG and TZ."
                  noun="Variable"
                  rows={form.env}
                  onChange={(rows) => set('env', rows)}
                  errors={errorsOf('env')}
                />
                <KeyValueEditor
                  id={fieldId('secretEnv')}
                  legend="Secret environment"
                  hint="Stored encrypted, given to the command only, masked as *** in its output. Never shown again: leave a stored value empty to keep it."
                  noun="Secret variable"
                  rows={form.secretEnv}
                  onChange={(rows) => set('secretEnv', rows)}
                  errors={errorsOf('secretEnv')}
                  secret
                />
              </>
            ) : (
              <>
                <div className="field-row">
                  {field('http.method', 'Method', (p) => (
                    <select
                      {...p}
                      value={form.method}
                      onChange={(e) => set('method', e.target.value as JobForm['method'])}
                    >
                      {HTTP_METHODS.map((m) => (
                        <option key={m}>{m}</option>
                      ))}
                    </select>
                  ))}
                  {field(
                    'http.url',
                    'URL',
                    (p) => (
                      <input
                        {...p}
                        type="url"
                        inputMode="url"
                        placeholder="https://example.com/hooks/report"
                        value={form.url}
                        spellCheck={false}
                        onChange={(e) => set('url', e.target.value)}
                      />
                    ),
                    undefined,
                    ['http'],
                  )}
                </div>
                <KeyValueEditor
                  id={fieldId('http.headers')}
                  legend="Headers"
                  hint="Sent with the request, beside the X-Gocron-Job-Id, -Run-Id, -Scheduled-At and -Attempt headers."
                  noun="Header"
                  rows={form.headers}
                  onChange={(rows) => set('headers', rows)}
                  errors={errorsOf('http.headers')}
                />
                <KeyValueEditor
                  id={fieldId('http.secretHeaders')}
                  legend="Secret headers"
                  hint="Authorization, Cookie, API keys: stored encrypted, sent only to the URL's own origin. Never shown again: leave a stored value empty to keep it."
                  noun="Secret header"
                  rows={form.secretHeaders}
                  onChange={(rows) => set('secretHeaders', rows)}
                  errors={errorsOf('http.secretHeaders')}
                  secret
                />
                {field('http.body', 'Body', (p) => (
                  <textarea
                    {...p}
                    className="mono"
                    rows={3}
                    value={form.body}
                    onChange={(e) => set('body', e.target.value)}
                  />
                ))}
                {field(
                  'http.expectStatus',
                  'Success statuses',
                  (p) => (
                    <input
                      {...p}
                      placeholder="200-299"
                      value={form.expectStatus}
                      onChange={(e) => set('expectStatus', e.target.value)}
                    />
                  ),
                  'Comma-separated, e.g. 200, 204. Blank: any 2xx.',
                )}
              </>
            )}
          </fieldset>

          <fieldset className="card">
            <legend>Limits and policies</legend>
            <div className="field-row">
              {field(
                'timeoutMs',
                'Timeout (ms)',
                (p) => (
                  <input
                    {...p}
                    type="number"
                    min={1}
                    max={86_400_000}
                    value={form.timeoutMs}
                    onChange={(e) => set('timeoutMs', e.target.value)}
                  />
                ),
                Number(form.timeoutMs) > 0 ? `= ${formatDuration(Number(form.timeoutMs))}; then timed out` : undefined,
              )}
              {field('retries', 'Retries', (p) => (
                <input
                  {...p}
                  type="number"
                  min={0}
                  max={10}
                  value={form.retries}
                  onChange={(e) => set('retries', e.target.value)}
                />
              ))}
              {field(
                'retryBackoffMs',
                'Retry backoff (ms)',
                (p) => (
                  <input
                    {...p}
                    type="number"
                    min={0}
                    value={form.retryBackoffMs}
                    onChange={(e) => set('retryBackoffMs', e.target.value)}
                  />
                ),
                'Doubles each attempt.',
              )}
            </div>
            {field('concurrency', 'When the previous run is still running', (p) => (
              <select
                {...p}
                value={form.concurrency}
                onChange={(e) => set('concurrency', e.target.value as JobForm['concurrency'])}
              >
                {CONCURRENCY_POLICIES.map((c) => (
                  <option key={c} value={c}>
                    {CONCURRENCY_HELP[c]}
                  </option>
                ))}
              </select>
            ))}
            {field('misfire', 'Ticks missed while no dispatcher ran', (p) => (
              <select
                {...p}
                value={form.misfire}
                onChange={(e) => set('misfire', e.target.value as JobForm['misfire'])}
              >
                {MISFIRE_POLICIES.map((m) => (
                  <option key={m} value={m}>
                    {MISFIRE_HELP[m]}
                  </option>
                ))}
              </select>
            ))}
          </fieldset>
          <fieldset className="card" id={fieldId('notify')}>
            <legend>Notifications</legend>
            <div className="field">
              <label className="checkbox">
                <input type="checkbox" checked={form.notifyOwn} onChange={(e) => set('notifyOwn', e.target.checked)} />{' '}
                Settings of its own (unchecked: the dispatchers' <code>[notify]</code> defaults)
              </label>
              {errorsOf('notify') && <FieldMessages id={`${fieldId('notify')}-error`} messages={errorsOf('notify')!} />}
            </div>
            {form.notifyOwn && (
              <>
                <div className={`field${errorsOf('notify.on') ? ' invalid' : ''}`} id={fieldId('notify.on')}>
                  <span className="label">Events</span>
                  <div className="checkbox-row">
                    {NOTIFY_EVENTS.map((ev) => (
                      <label key={ev} className="checkbox">
                        <input
                          type="checkbox"
                          name="notify-on"
                          value={ev}
                          checked={form.notifyOn.includes(ev)}
                          onChange={(e) =>
                            set(
                              'notifyOn',
                              e.target.checked ? [...form.notifyOn, ev] : form.notifyOn.filter((x) => x !== ev),
                            )
                          }
                        />{' '}
                        {EVENT_LABEL[ev]}
                      </label>
                    ))}
                  </div>
                  <p className="hint">
                    Failures notify on the final attempt only. None checked: this job notifies nothing.
                  </p>
                  {errorsOf('notify.on') && (
                    <FieldMessages id={`${fieldId('notify.on')}-error`} messages={errorsOf('notify.on')!} />
                  )}
                </div>
                {field(
                  'notify.webhook',
                  'Webhook URL',
                  (p) => (
                    <input
                      {...p}
                      type="url"
                      inputMode="url"
                      autoComplete="off"
                      spellCheck={false}
                      placeholder={form.notifyWebhookStored ? 'stored (hidden): leave empty to keep it' : 'https://'}
                      value={form.notifyWebhook}
                      onChange={(e) => set('notifyWebhook', e.target.value)}
                    />
                  ),
                  form.notifyWebhookStored
                    ? 'A URL is stored and never shown again; type another to replace it.'
                    : 'Empty: the [notify] webhook_url. A signed JSON POST.',
                )}
                {field(
                  'notify.slack',
                  'Slack incoming webhook URL',
                  (p) => (
                    <input
                      {...p}
                      type="url"
                      inputMode="url"
                      autoComplete="off"
                      spellCheck={false}
                      placeholder={
                        form.notifySlackStored ? 'stored (hidden): leave empty to keep it' : 'https://hooks.slack.com/…'
                      }
                      value={form.notifySlack}
                      onChange={(e) => set('notifySlack', e.target.value)}
                    />
                  ),
                  form.notifySlackStored
                    ? 'A URL is stored and never shown again (it is a credential); type another to replace it.'
                    : 'Empty: the [notify] slack_url.',
                )}
                {field(
                  'notify.email',
                  'Email recipients',
                  (p) => (
                    <input
                      {...p}
                      placeholder="ops@example.com, oncall@example.com"
                      value={form.notifyEmail}
                      onChange={(e) => set('notifyEmail', e.target.value)}
                    />
                  ),
                  'Comma-separated; empty: the [notify] mail_to. Sent over [notify] smtp_url.',
                )}
              </>
            )}
          </fieldset>
        </div>

        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={saving} aria-busy={saving || undefined}>
            {job ? 'Save changes' : 'Create job'}
          </button>
          <a className="button" href={job ? href(`/jobs/${job.id}`) : href('/jobs')}>
            Cancel
          </a>
        </div>
      </form>
    </>
  );
}

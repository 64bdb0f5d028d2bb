// Trigger, pause/resume and delete, the same from the jobs table and a job's page: confirmed where destructive,
// reported in a toast, refused calls explained. Each button shows only to a role that may use it (run, run with
// children, pause, resume: operator; edit, delete: admin).
import type { JobJson } from '@app/contract';
import { api, errorText } from '../lib/api';
import { href } from '../hooks/router';
import { useCan } from '../hooks/session';
import { AsyncButton } from './async-button';
import { useConfirm } from './confirm-dialog';
import { useToast } from './toasts';

export function useJobActions(onChanged: () => void) {
  const toast = useToast();
  const confirm = useConfirm();
  const attempt = async (fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (e) {
      toast(errorText(e), 'error');
    }
    onChanged();
  };
  const trigger = (job: JobJson, cascade: boolean) =>
    attempt(async () => {
      const { runId } = await api.triggerJob(job.id, cascade);
      toast(
        cascade
          ? `Triggered ${job.name}: run #${runId}; its children follow as it finishes.`
          : `Triggered ${job.name}: run #${runId}.`,
        'ok',
        { href: href(`/jobs/${job.id}/runs/${runId}`), label: 'View run' },
      );
    });
  return {
    trigger: (job: JobJson) => trigger(job, false),
    /** POST /api/jobs/:id/trigger?cascade=true: the run's children follow it as if it had been scheduled. */
    triggerWithChildren: (job: JobJson) => trigger(job, true),
    setEnabled: (job: JobJson, enabled: boolean) =>
      attempt(async () => {
        await (enabled ? api.resumeJob(job.id) : api.pauseJob(job.id));
        toast(enabled ? `Resumed ${job.name}.` : `Paused ${job.name}: it will not fire until resumed.`);
      }),
    remove: async (job: JobJson): Promise<boolean> => {
      // Other jobs depend on it: the API deletes it only with force, which detaches them (those left with no schedule
      // are paused). The dialog names them, so that confirming is choosing that.
      const children = job.children ?? [];
      const ok = await confirm({
        title: `Delete ${job.name}?`,
        body: (
          <>
            <p>
              Scheduling stops on every dispatcher and its running runs are cancelled. Its run history stays readable.
              This can not be undone.
            </p>
            {children.length > 0 && (
              <p>
                {children.length === 1 ? 'One job depends' : `${children.length} jobs depend`} on it:{' '}
                <strong>{children.map((c) => c.name).join(', ')}</strong>. They no longer wait for it; those left with
                no schedule are paused.
              </p>
            )}
          </>
        ),
        confirmLabel: children.length > 0 ? 'Delete job and detach its children' : 'Delete job',
        danger: true,
      });
      if (!ok) return false;
      let deleted = false;
      await attempt(async () => {
        await api.deleteJob(job.id, children.length > 0);
        deleted = true;
        toast(`Deleted ${job.name}.`);
      });
      return deleted;
    },
  };
}

/**
 * The job's buttons. `compact` is a table row: each button's accessible name includes the job's ("Pause nightly"),
 * and Edit is left to the job's page so that a row fits at 1280 px.
 */
export function JobActionButtons({
  job,
  actions,
  onDeleted,
  compact,
}: {
  job: JobJson;
  actions: ReturnType<typeof useJobActions>;
  onDeleted?: () => void;
  compact?: boolean;
}) {
  const can = useCan();
  const label = (verb: string) => (compact ? { 'aria-label': `${verb} ${job.name}` } : {});
  if (!can('operator')) return null;
  return (
    <div className="actions">
      <AsyncButton {...label('Run now')} onClick={() => actions.trigger(job)}>
        Run now
      </AsyncButton>
      {!compact && (job.children ?? []).length > 0 && (
        <AsyncButton
          onClick={() => actions.triggerWithChildren(job)}
          title="Run it now, and let its children run after it as they would after a scheduled run"
        >
          Run with children
        </AsyncButton>
      )}
      <AsyncButton {...label(job.enabled ? 'Pause' : 'Resume')} onClick={() => actions.setEnabled(job, !job.enabled)}>
        {job.enabled ? 'Pause' : 'Resume'}
      </AsyncButton>
      {!compact && can('admin') && (
        <a className="button" href={href(`/jobs/${job.id}/edit`)}>
          Edit
        </a>
      )}
      {can('admin') && (
        <AsyncButton
          {...label('Delete')}
          className="button button-danger-quiet"
          onClick={async () => {
            if ((await actions.remove(job)) && onDeleted) onDeleted();
          }}
        >
          Delete
        </AsyncButton>
      )}
    </div>
  );
}

// Trigger, pause/resume and delete, the same from the jobs table and a job's page: confirmed where destructive,
// reported in a toast, refused calls explained. Each button shows only to a role that may use it (run, pause,
// resume: operator; edit, delete: admin).
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
  return {
    trigger: (job: JobJson) =>
      attempt(async () => {
        const { runId } = await api.triggerJob(job.id);
        toast(`Triggered ${job.name}: run #${runId}.`, 'ok', {
          href: href(`/jobs/${job.id}/runs/${runId}`),
          label: 'View run',
        });
      }),
    setEnabled: (job: JobJson, enabled: boolean) =>
      attempt(async () => {
        await (enabled ? api.resumeJob(job.id) : api.pauseJob(job.id));
        toast(enabled ? `Resumed ${job.name}.` : `Paused ${job.name}: it will not fire until resumed.`);
      }),
    remove: async (job: JobJson): Promise<boolean> => {
      const ok = await confirm({
        title: `Delete ${job.name}?`,
        body: (
          <p>
            Scheduling stops on every dispatcher and its running runs are cancelled. Its run history stays readable.
            This can not be undone.
          </p>
        ),
        confirmLabel: 'Delete job',
        danger: true,
      });
      if (!ok) return false;
      let deleted = false;
      await attempt(async () => {
        await api.deleteJob(job.id);
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

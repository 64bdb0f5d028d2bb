import { Injectable } from '@nestjs/common';
import { hideInLogs, SecretBox } from '@app/common';
import { JobEntity, openSecrets, PlainSecrets, secretValues } from '@app/persistence';

/**
 * Opens a job's secrets with the installation's key, once per job row read (JobCache hands out the same object
 * while the row is unchanged), and puts a job's values in this process's log mask each time one of its runs starts.
 */
@Injectable()
export class SecretOpener {
  private readonly opened = new WeakMap<JobEntity, PlainSecrets | { problem: string }>();

  constructor(private readonly box: SecretBox) {}

  open(job: JobEntity): PlainSecrets | { problem: string } {
    let secrets = this.opened.get(job);
    if (!secrets) {
      secrets = openSecrets(this.box, job);
      this.opened.set(job, secrets);
    }
    // At every run, not once per copy: the log mask keeps the values opened most recently (MAX_HIDDEN), and a copy
    // JobCache keeps while its row is unchanged is put back in it each time one of its runs starts.
    if (!('problem' in secrets)) hideInLogs(secretValues(secrets));
    return secrets;
  }
}

import { Injectable } from '@nestjs/common';
import { hideInLogs, SecretBox } from '@app/common';
import { JobEntity, openSecrets, PlainSecrets, secretValues } from '@app/persistence';

/**
 * Opens a job's secrets with the installation's key, once per job row read (JobCache hands out the same object
 * while it is current), and has every opened value masked in this process's log lines from then on.
 */
@Injectable()
export class SecretOpener {
  private readonly opened = new WeakMap<JobEntity, PlainSecrets | { problem: string }>();

  constructor(private readonly box: SecretBox) {}

  open(job: JobEntity): PlainSecrets | { problem: string } {
    let secrets = this.opened.get(job);
    if (!secrets) {
      secrets = openSecrets(this.box, job);
      if (!('problem' in secrets)) hideInLogs(secretValues(secrets));
      this.opened.set(job, secrets);
    }
    return secrets;
  }
}

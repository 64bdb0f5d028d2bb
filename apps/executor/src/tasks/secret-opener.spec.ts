import { createAppLogger, hideInLogs, SecretBox } from '@app/common';
import { JobEntity, sealSecret } from '@app/persistence';
import { SecretOpener } from './secret-opener';

/** What the process's logger prints for one line. */
function printed(line: string): string {
  const out: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((c) => (out.push(String(c)), true));
  try {
    createAppLogger().log(line, 'Test');
  } finally {
    spy.mockRestore();
  }
  return out.join('');
}

describe('SecretOpener', () => {
  it("keeps a running job's values masked in log lines though ten thousand others were opened since its copy was", () => {
    const box = new SecretBox(Buffer.alloc(32, 7));
    const job = {
      id: 3,
      secrets: { env: { TOKEN: sealSecret(box, 3, 'env', 'TOKEN', 'tok-3-secret') } },
    } as unknown as JobEntity;
    const opener = new SecretOpener(box);
    const first = opener.open(job);
    expect(first).toEqual({ env: { TOKEN: 'tok-3-secret' }, headers: {} });
    expect(printed('uses tok-3-secret')).not.toContain('tok-3-secret');
    // Other jobs' values push it out of the mask (it keeps the 10,000 opened most recently)…
    hideInLogs(Array.from({ length: 10_001 }, (_, i) => `other-value-${i}`));
    expect(printed('uses tok-3-secret')).toContain('tok-3-secret');
    // …and the next run of the same copy (JobCache keeps it while the row is unchanged) masks it again.
    expect(opener.open(job)).toBe(first);
    expect(printed('uses tok-3-secret')).not.toContain('tok-3-secret');
  });
});

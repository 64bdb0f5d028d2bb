import { createAppLogger, hideInLogs } from './logger';

/** What the logger writes for one call, with GOCRON_LOG_FORMAT as given. */
function written(format: string | undefined, log: (logger: ReturnType<typeof createAppLogger>) => void): string {
  const saved = process.env.GOCRON_LOG_FORMAT;
  if (format === undefined) delete process.env.GOCRON_LOG_FORMAT;
  else process.env.GOCRON_LOG_FORMAT = format;
  const out: string[] = [];
  const stdout = jest.spyOn(process.stdout, 'write').mockImplementation((c) => (out.push(String(c)), true));
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((c) => (out.push(String(c)), true));
  try {
    log(createAppLogger());
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
    if (saved === undefined) delete process.env.GOCRON_LOG_FORMAT;
    else process.env.GOCRON_LOG_FORMAT = saved;
  }
  return out.join('');
}

describe('log lines never carry a secret the process holds', () => {
  hideInLogs(['hunter2-"quoted"-secret']);

  it('masks messages, structured fields and stacks, as text and as JSON', () => {
    for (const format of [undefined, 'json']) {
      const text = written(format, (l) => {
        l.log({ msg: 'run failed: hunter2-"quoted"-secret', jobId: 1 }, 'Test');
        l.warn('plain hunter2-"quoted"-secret', 'Test');
        l.error('boom', 'Error: x hunter2-"quoted"-secret\n    at y', 'Test');
      });
      expect(text).toContain('***');
      expect(text).not.toContain('hunter2');
    }
  });
});

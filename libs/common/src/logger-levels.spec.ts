import { createAppLogger, logsDebug } from './logger';

/** createAppLogger with GOCRON_LOG_LEVEL as given; the variable is put back afterwards. */
function withLevel(level: string | undefined): void {
  const saved = process.env.GOCRON_LOG_LEVEL;
  if (level === undefined) delete process.env.GOCRON_LOG_LEVEL;
  else process.env.GOCRON_LOG_LEVEL = level;
  try {
    createAppLogger();
  } finally {
    if (saved === undefined) delete process.env.GOCRON_LOG_LEVEL;
    else process.env.GOCRON_LOG_LEVEL = saved;
  }
}

describe('logsDebug follows GOCRON_LOG_LEVEL', () => {
  afterAll(() => withLevel('debug'));

  it('is false at the default level and at levels above debug, true at debug and verbose', () => {
    withLevel(undefined);
    expect(logsDebug()).toBe(false);
    withLevel('warn');
    expect(logsDebug()).toBe(false);
    withLevel('debug');
    expect(logsDebug()).toBe(true);
    withLevel('verbose');
    expect(logsDebug()).toBe(true);
    // An unknown level falls back to `log`, as the logger itself does.
    withLevel('loud');
    expect(logsDebug()).toBe(false);
  });
});

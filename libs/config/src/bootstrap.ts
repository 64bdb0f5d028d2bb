import { ConfigError, configPathFromArgv, loadConfig } from './config.loader';
import { AppConfig } from './config.types';

/**
 * Loads and validates the config for an app's main.ts. A bad value stops the process at start with one line per
 * problem naming the key and the reason, and exit code 2.
 */
export function loadConfigOrExit(app: string): AppConfig {
  return orExitOnConfigError(app, () => loadConfig(configPathFromArgv()));
}

/**
 * Runs a start-up step that checks config beyond the file (certificates it names, a combination of keys only one
 * app cares about); its ConfigError ends the process as a bad config file does, without a stack trace.
 */
export function orExitOnConfigError<T>(app: string, step: () => T): T {
  try {
    return step();
  } catch (e) {
    const lines = e instanceof ConfigError ? e.problems : [String(e)];
    for (const line of lines) process.stderr.write(`gocron ${app}: config: ${line}\n`);
    process.exit(2);
  }
}

import { InitialSchema1764000000000 } from './1764000000000-initial-schema';
import { ActiveRunsIndex1764900000000 } from './1764900000000-active-runs-index';
import { WideIds1765000000000 } from './1765000000000-wide-ids';
import { Auth1765100000000 } from './1765100000000-auth';
import { Secrets1765200000000 } from './1765200000000-secrets';
import { VerifyFrom1765300000000 } from './1765300000000-verify-from';
import { Notifications1765400000000 } from './1765400000000-notifications';
import { SkipRanges1765500000000 } from './1765500000000-skip-ranges';
import { Broker1765600000000 } from './1765600000000-broker';
import { Dependencies1765700000000 } from './1765700000000-dependencies';

/** Listed by class, not by glob: the apps are bundled by webpack, so there is no migrations folder at run time. */
export const MIGRATIONS = [
  InitialSchema1764000000000,
  ActiveRunsIndex1764900000000,
  WideIds1765000000000,
  Auth1765100000000,
  Secrets1765200000000,
  VerifyFrom1765300000000,
  Notifications1765400000000,
  SkipRanges1765500000000,
  Broker1765600000000,
  Dependencies1765700000000,
];

/** The schema an app of this build needs: the newest migration's name (the executor waits for it). */
export const SCHEMA_VERSION = new Dependencies1765700000000().name;

import { InitialSchema1764000000000 } from './1764000000000-initial-schema';
import { ActiveRunsIndex1764900000000 } from './1764900000000-active-runs-index';

/** Listed by class, not by glob: the apps are bundled by webpack, so there is no migrations folder at run time. */
export const MIGRATIONS = [InitialSchema1764000000000, ActiveRunsIndex1764900000000];

import { InitialSchema1764000000000 } from './1764000000000-initial-schema';

/** Listed by class, not by glob: the apps are bundled by webpack, so there is no migrations folder at run time. */
export const MIGRATIONS = [InitialSchema1764000000000];

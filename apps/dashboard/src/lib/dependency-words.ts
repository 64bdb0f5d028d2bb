// How the dashboard words a dependency: a parent's condition and a job's mode (CONTRACT.md, Job: dependsOn).
import type { DependencyCondition, DependencyMode, RunLinkJson } from '@app/contract';

/** In the form's condition select: when the parent's run starts this job. */
export const CONDITION_WORDS: Record<DependencyCondition, string> = {
  success: 'on success',
  failure: 'on failure (last attempt)',
  always: 'always (success or failure)',
};

/** Short, on an edge of the graph and in lists. */
export const CONDITION_SHORT: Record<DependencyCondition, string> = {
  success: 'on success',
  failure: 'on failure',
  always: 'always',
};

export const MODE_WORDS: Record<DependencyMode, string> = {
  all: 'all: once every parent has run for the same occasion',
  any: 'any: once for each parent run that meets its condition',
};

/** A job's own schedule in a few words when it has none: it runs after its parents only. */
export const modeSummary = (mode: DependencyMode, parents: number): string =>
  parents <= 1 ? 'after its parent' : mode === 'all' ? 'after all its parents' : 'after any of its parents';

/** The page of a run beside another (a parent or child run): on its own job's page. */
export const runHref = (link: Pick<RunLinkJson, 'id' | 'jobId'>): string => `/jobs/${link.jobId}/runs/${link.id}`;

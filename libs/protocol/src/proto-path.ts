import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const EXECUTOR_PACKAGE = 'gocron.executor.v1';
export const EXECUTOR_SERVICE = 'Executor';

/**
 * Where executor.proto is: in the repository beside dist/ (the bundle reads it from there), or in the source tree when
 * running from TypeScript (tests, `nest start --watch` from the repo root).
 */
export function executorProtoPath(): string {
  const candidates = [
    join(__dirname, '../../../proto/executor.proto'),
    join(__dirname, '../../../../proto/executor.proto'),
    join(process.cwd(), 'proto/executor.proto'),
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`executor.proto not found; looked in ${candidates.join(', ')}`);
  return found;
}

/**
 * int64 as JS numbers (ids and milliseconds stay far below 2^53), defaults filled in, oneof names reported. The types
 * in generated/ are generated with the same options (generated-types.spec.ts derives the generator's flags from these).
 */
export const PROTO_LOADER_OPTIONS = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PROTO_LOADER_OPTIONS } from './proto-path';

const root = join(__dirname, '../../..');
const checkedIn = join(__dirname, 'generated');

/**
 * The generator's flags, derived from the options the loader runs with, so that the types describe the objects the
 * loader really hands out (`npm run gen:proto` passes the same flags).
 */
function generatorFlags(): string[] {
  const o = PROTO_LOADER_OPTIONS;
  return [
    ...(o.keepCase ? ['--keepCase'] : []),
    `--longs=${o.longs.name}`,
    `--enums=${o.enums.name}`,
    ...(o.defaults ? ['--defaults'] : []),
    ...(o.oneofs ? ['--oneofs'] : []),
    '--includeComments',
    '--grpcLib=@grpc/grpc-js',
  ];
}

function filesUnder(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files[relative(dir, path)] = readFileSync(path, 'utf8');
  }
  return files;
}

describe('libs/protocol/src/generated', () => {
  let out: string;

  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'gocron-proto-types-'));
    // From the repository root, as `npm run gen:proto` runs: the proto's path is written into the generated files.
    const bin = (name: string) => join(root, 'node_modules/.bin', name);
    execFileSync(bin('proto-loader-gen-types'), [...generatorFlags(), '-O', out, 'proto/executor.proto'], {
      cwd: root,
    });
    execFileSync(bin('prettier'), ['--write', '--log-level=warn', '--config', join(root, '.prettierrc'), out], {
      cwd: root,
    });
  });

  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('is what proto/executor.proto generates (after editing the proto, run `npm run gen:proto`)', () => {
    const expected = filesUnder(out);
    expect(Object.keys(expected)).toContain('executor.ts');
    expect(filesUnder(checkedIn)).toEqual(expected);
  });
});

import { closeSync, linkSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { Logger } from '@nestjs/common';

/** What a secret file must hold: one line matching `pattern`, described for the error when it does not. */
export interface SecretFileFormat {
  pattern: RegExp;
  /** e.g. "one token (16 to 512 printable characters) on one line" */
  describe: string;
}

/**
 * The secret in `file` (its first line, trimmed), or null when there is no file. A file that holds something else
 * stops the start, naming the file and what it should hold, never what it holds.
 */
export function readSecretFile(file: string, format: SecretFileFormat): string | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const secret = text.split('\n')[0].trim();
  if (!format.pattern.test(secret)) throw new Error(`${file}: expected ${format.describe}`);
  if ((statSync(file).mode & 0o077) !== 0) {
    new Logger('SecretFile').warn(`${file} is readable by other users: chmod 600 ${file}`);
  }
  return secret;
}

/**
 * Writes `make()` into `file` (0600, alone on one line) unless the file exists: written whole to a temporary file,
 * then linked into place, which fails if another process got there first (two processes starting at the same
 * moment); then that process's secret is the one. A file is never rewritten.
 */
export function createSecretFile(
  file: string,
  format: SecretFileFormat,
  make: () => string,
): { secret: string; created: boolean } {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const secret = make();
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(8).toString('hex')}`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `${secret}\n`);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, file);
    return { secret, created: true };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const theirs = readSecretFile(file, format);
    if (theirs === null) throw e;
    return { secret: theirs, created: false };
  } finally {
    unlinkSync(tmp);
  }
}

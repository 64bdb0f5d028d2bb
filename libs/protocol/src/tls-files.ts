import { createPrivateKey, KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '@app/config';
import type { ExecutorConfig } from '@app/config';

/** The PEM files of `[executor] tls_cert`, `tls_key` and `tls_ca`, as read at start (null: the key is empty). */
export interface TlsFiles {
  cert: Buffer | null;
  key: Buffer | null;
  ca: Buffer | null;
}

type TlsPaths = Pick<ExecutorConfig, 'tlsCert' | 'tlsKey' | 'tlsCa'>;

/**
 * Reads the TLS files once, at start: a renewed certificate takes effect at the next restart. A file that can not
 * be read or is not what its key says (a certificate, a private key without passphrase, the key of that certificate)
 * is reported with the key and the path, every problem at once, as config errors are; the contents never are.
 * Relative paths start at the working directory.
 */
export function readTlsFiles(paths: TlsPaths): TlsFiles {
  const problems: string[] = [];
  const read = (key: string, path: string): Buffer | null => {
    if (!path) return null;
    try {
      return readFileSync(path);
    } catch (e) {
      problems.push(`[executor] ${key}: can not read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
      return null;
    }
  };
  const files = {
    cert: read('tls_cert', paths.tlsCert),
    key: read('tls_key', paths.tlsKey),
    ca: read('tls_ca', paths.tlsCa),
  };

  const cert = files.cert && parse(() => new X509Certificate(files.cert!));
  if (files.cert && !cert) problems.push(`[executor] tls_cert: ${paths.tlsCert} is not a PEM certificate`);
  if (files.ca && !parse(() => new X509Certificate(files.ca!))) {
    problems.push(`[executor] tls_ca: ${paths.tlsCa} is not a PEM certificate`);
  }
  const key = files.key && parse((): KeyObject => createPrivateKey(files.key!));
  if (files.key && !key) {
    problems.push(`[executor] tls_key: ${paths.tlsKey} is not a PEM private key (or needs a passphrase)`);
  }
  if (cert && key && !cert.checkPrivateKey(key)) {
    problems.push(`[executor] tls_key: ${paths.tlsKey} is not the key of tls_cert ${paths.tlsCert}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return files;
}

function parse<T>(fn: () => T): T | null {
  try {
    return fn();
  } catch {
    return null;
  }
}

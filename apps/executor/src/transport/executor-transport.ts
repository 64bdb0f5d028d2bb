import * as grpc from '@grpc/grpc-js';
import { BlockList, isIP } from 'node:net';
import { ConfigError } from '@app/config';
import type { ExecutorConfig } from '@app/config';
import { readTlsFiles } from '@app/protocol';
import type { TlsFiles } from '@app/protocol';
import { requireToken, TokenCheck } from './token-check';

/** How the executor's gRPC server listens: its credentials, its interceptors, and what to warn about at start. */
export interface ExecutorTransport {
  credentials: grpc.ServerCredentials;
  interceptors: grpc.ServerInterceptor[];
  tls: 'off' | 'tls' | 'mutual';
  warnings: string[];
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** 127.0.0.0/8, ::1 (in any spelling, bracketed, or IPv4-mapped) and `localhost`: reachable from this machine only. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost') return true;
  const family = isIP(h);
  return family !== 0 && LOOPBACK.check(h, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * The executor's side of `[executor] token`, `tls_cert`, `tls_key` and `tls_ca`, decided once at start. Throws a
 * ConfigError naming the key (never the token) when the combination is unsafe or a file is unusable.
 *
 * - token set: every call must carry it (TokenCheck); token empty: calls are not checked at all, which is allowed
 *   only on a loopback host, where only local processes can call (a warning says so).
 * - tls_cert + tls_key: the server speaks TLS; with tls_ca as well, a client must present a certificate signed by
 *   that CA (mutual TLS). tls_ca alone is a dispatcher's setting and an error here.
 */
export function executorTransport(e: ExecutorConfig): ExecutorTransport {
  const problems: string[] = [];
  const warnings: string[] = [];
  if (!e.token) {
    if (isLoopbackHost(e.host)) {
      warnings.push(
        '[executor] token is empty: any local process can run jobs through this executor; ' +
          'set [executor] token (or GOCRON_EXECUTOR_TOKEN) on it and its dispatchers',
      );
    } else {
      problems.push(
        `[executor] token: must be set when [executor] host (${e.host}) is not a loopback address ` +
          '(or GOCRON_EXECUTOR_TOKEN); without it anyone who reaches the port runs commands',
      );
    }
  }
  if (e.tlsCa && !e.tlsCert) {
    problems.push('[executor] tls_ca: on an executor it needs tls_cert and tls_key (the server certificate)');
  }
  let files: TlsFiles = { cert: null, key: null, ca: null };
  try {
    files = readTlsFiles(e);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  // Every problem at once, as config errors are.
  if (problems.length > 0) throw new ConfigError(problems);

  const credentials =
    files.cert && files.key
      ? grpc.ServerCredentials.createSsl(
          files.ca,
          [{ cert_chain: files.cert, private_key: files.key }],
          files.ca !== null,
        )
      : grpc.ServerCredentials.createInsecure();
  return {
    credentials,
    interceptors: e.token ? [requireToken(new TokenCheck(e.token))] : [],
    tls: files.cert ? (files.ca ? 'mutual' : 'tls') : 'off',
    warnings,
  };
}

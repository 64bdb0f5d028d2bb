import * as grpc from '@grpc/grpc-js';
import type { ExecutorConfig } from '@app/config';
import { bearerValue, readTlsFiles, TOKEN_METADATA_KEY } from '@app/protocol';

/** How a dispatcher reaches executors: the channel credentials and the token every call carries ('' for none). */
export interface ExecutorLink {
  credentials: grpc.ChannelCredentials;
  token: string;
}

/** No TLS, no token: an executor on loopback with an empty `[executor] token`. */
export function plaintextLink(token = ''): ExecutorLink {
  return { credentials: grpc.credentials.createInsecure(), token };
}

/**
 * The dispatcher's side of `[executor] token`, `tls_ca`, `tls_cert` and `tls_key`, read once at start (throws a
 * ConfigError naming the key and path of an unusable file):
 * - tls_ca: executors are reached over TLS and must present a certificate signed by it;
 * - tls_cert + tls_key: presented as this dispatcher's client certificate (for an executor with tls_ca); without
 *   tls_ca, executors are verified against the system's roots;
 * - neither: plaintext.
 * The same file can thus serve both apps: one certificate without an extended key usage, or with serverAuth and
 * clientAuth, is the executor's server certificate and the dispatcher's client certificate.
 */
export function executorLink(e: ExecutorConfig): ExecutorLink {
  const files = readTlsFiles(e);
  if (!files.ca && !files.cert) return plaintextLink(e.token);
  return { credentials: grpc.credentials.createSsl(files.ca, files.key, files.cert), token: e.token };
}

/**
 * Adds the token to every call's metadata (grpc-js refuses call credentials on a plaintext channel, so a client
 * interceptor does it, for every method), and reports each UNAUTHENTICATED answer.
 */
export function tokenInterceptor(token: string, onUnauthenticated: () => void): grpc.Interceptor {
  const value = token ? bearerValue(token) : '';
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start: (metadata, listener, next) => {
        if (value) metadata.set(TOKEN_METADATA_KEY, value);
        next(metadata, {
          onReceiveStatus: (status, nextStatus) => {
            if (status.code === grpc.status.UNAUTHENTICATED) onUnauthenticated();
            nextStatus(status);
          },
        });
      },
    });
}

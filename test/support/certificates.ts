// Certificates for the TLS tests and benchmarks, made with `openssl` (scripts/test-services.sh installs it).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCertificates {
  /** The CA's certificate (what `[executor] tls_ca` names). */
  ca: string;
  /** For IP 127.0.0.1, extendedKeyUsage serverAuth only: not usable as a client certificate. */
  serverCert: string;
  serverKey: string;
  /** extendedKeyUsage clientAuth. */
  clientCert: string;
  clientKey: string;
}

/** A CA, a server certificate for IP 127.0.0.1 and a client certificate, made with openssl in `dir`. */
export function makeCertificates(dir: string): TestCertificates {
  const f = (name: string) => join(dir, name);
  // Arguments are split on spaces: the paths are mkdtemp's, without spaces.
  const openssl = (args: string) => execFileSync('openssl', args.split(' '), { cwd: dir, stdio: 'pipe' });
  const ec = '-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2';
  openssl(`req -x509 ${ec} -keyout ${f('ca.key')} -out ${f('ca.pem')} -subj /CN=gocron-test-ca`);
  const sign = (name: string, ext: string) => {
    writeFileSync(f(`${name}.ext`), ext);
    openssl(`req ${ec} -keyout ${f(`${name}.key`)} -out ${f(`${name}.csr`)} -subj /CN=gocron-test-${name}`);
    openssl(
      `x509 -req -days 2 -in ${f(`${name}.csr`)} -CA ${f('ca.pem')} -CAkey ${f('ca.key')} -CAcreateserial ` +
        `-out ${f(`${name}.pem`)} -extfile ${f(`${name}.ext`)}`,
    );
  };
  sign('server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  sign('client', 'extendedKeyUsage=clientAuth\n');
  return {
    ca: f('ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
  };
}

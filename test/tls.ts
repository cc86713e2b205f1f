import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Certificates for tests, made with the openssl CLI: a CA, a server certificate for localhost / 127.0.0.1 and
 * client certificates (subject CN = a unit or a user) signed by it, and a second, unrelated CA with its own server
 * and client certificates, for "wrong certificate" tests. EC keys (prime256v1), valid two days: quick to make.
 */

export interface PemFiles {
  certFile: string;
  keyFile: string;
  /** PEM contents of certFile and keyFile. */
  cert: string;
  key: string;
}

export interface Authority {
  /** The CA's own certificate (what a peer trusts) and key. */
  ca: PemFiles;
  /** CN=localhost, subjectAltName IP:127.0.0.1, DNS:localhost; for TLS servers. */
  server: PemFiles;
  /** A client certificate whose subject CN is `cn` (made once per CN). */
  clientCert(cn: string): PemFiles;
}

export interface Pki extends Authority {
  dir: string;
  /** A second CA that has nothing to do with the first, with its own server certificate and a client one (CN car-12). */
  otherCa: Authority & { client: PemFiles };
}

const OPENSSL = '/usr/bin/openssl';

const CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

function openssl(args: string[]): void {
  execFileSync(OPENSSL, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function authority(dir: string, name: string, config: string): Authority {
  const files = (base: string) => ({ certFile: path.join(dir, `${base}.crt`), keyFile: path.join(dir, `${base}.key`) });
  const load = (f: { certFile: string; keyFile: string }): PemFiles => ({ ...f, cert: readFileSync(f.certFile, 'utf8'), key: readFileSync(f.keyFile, 'utf8') });
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-config', config];

  const caFiles = files(`${name}-ca`);
  openssl(['req', '-x509', ...newKey, '-extensions', 'ca_ext', '-subj', `/CN=${name} test CA`, '-keyout', caFiles.keyFile, '-out', caFiles.certFile]);
  const ca = load(caFiles);

  const signed = (base: string, cn: string, ext: 'server_ext' | 'client_ext'): PemFiles => {
    const f = files(base);
    openssl(['req', '-x509', ...newKey, '-extensions', ext, '-subj', `/CN=${cn}`, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-keyout', f.keyFile, '-out', f.certFile]);
    return load(f);
  };
  const server = signed(`${name}-server`, 'localhost', 'server_ext');
  const clients = new Map<string, PemFiles>();
  return {
    ca,
    server,
    clientCert(cn: string): PemFiles {
      let c = clients.get(cn);
      if (!c) {
        c = signed(`${name}-client-${cn.replace(/[^A-Za-z0-9._-]/g, '_')}`, cn, 'client_ext');
        clients.set(cn, c);
      }
      return c;
    },
  };
}

/** Makes the certificates under dir (created if missing). */
export function makePki(dir: string): Pki {
  mkdirSync(dir, { recursive: true });
  const config = path.join(dir, 'openssl.cnf');
  writeFileSync(config, CONFIG);
  const main = authority(dir, 'main', config);
  const other = authority(dir, 'other', config);
  return { dir, ...main, clientCert: main.clientCert, otherCa: { ...other, clientCert: other.clientCert, client: other.clientCert('car-12') } };
}

/**
 * `npm run cluster -- --mtls`: the public frontend with TLS and client-certificate verification (docs/cluster-auth.md).
 *
 * Two local CAs, made once under `.data/cluster/tls/` and reused while valid: the server's (devstack/local-tls.ts: a
 * CA and a certificate for localhost / 127.0.0.1, the CA's key dropped), which clients trust; and the clients' CA,
 * which signs one client certificate (extended key usage clientAuth) and whose key is dropped as well, which the
 * frontend trusts. Clients connect through envconfig's TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_CLIENT_CERT_PATH
 * and TEMPORAL_TLS_CLIENT_KEY_PATH. Only the public frontend uses TLS: the internal frontend (the server's own worker
 * service, the setup, the UI) stays on loopback plaintext.
 */
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ensureLocalTls, issueWithNewCa } from '../local-tls';
import type { ClusterLayout } from './layout';

export interface ClusterTls {
  /** The server's CA (clients trust it), certificate and key. */
  serverCaFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  /** The clients' CA (the frontend trusts it), and the one client certificate and key it signed. */
  clientCaFile: string;
  clientCertFile: string;
  clientKeyFile: string;
}

const DAY_MS = 24 * 3600 * 1000;

/** The file paths (whether or not they exist yet). */
export function clusterTlsFiles(layout: ClusterLayout): ClusterTls {
  const dir = path.join(layout.paths.root, 'tls');
  return {
    serverCaFile: path.join(dir, 'server', 'ca.pem'),
    serverCertFile: path.join(dir, 'server', 'server.pem'),
    serverKeyFile: path.join(dir, 'server', 'server-key.pem'),
    clientCaFile: path.join(dir, 'client', 'ca.pem'),
    clientCertFile: path.join(dir, 'client', 'client.pem'),
    clientKeyFile: path.join(dir, 'client', 'client-key.pem'),
  };
}

/** Makes what is missing or expiring; returns the files. */
export async function ensureClusterTls(layout: ClusterLayout): Promise<ClusterTls> {
  const files = clusterTlsFiles(layout);
  await ensureLocalTls(path.dirname(files.serverCaFile));
  if (!clientFilesValid(files)) await writeClientCa(files);
  return files;
}

/** envconfig's variables for a client of the mTLS frontend. */
export function clientTlsEnv(files: ClusterTls): Record<string, string> {
  return {
    TEMPORAL_TLS: 'true',
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: files.serverCaFile,
    TEMPORAL_TLS_CLIENT_CERT_PATH: files.clientCertFile,
    TEMPORAL_TLS_CLIENT_KEY_PATH: files.clientKeyFile,
  };
}

function clientFilesValid(files: ClusterTls): boolean {
  try {
    const ca = new X509Certificate(fs.readFileSync(files.clientCaFile));
    const cert = new X509Certificate(fs.readFileSync(files.clientCertFile));
    const renewAt = Date.now() + 7 * DAY_MS;
    return (
      new Date(cert.validTo).getTime() > renewAt &&
      cert.checkIssued(ca) &&
      cert.verify(ca.publicKey) &&
      cert.checkPrivateKey(createPrivateKey(fs.readFileSync(files.clientKeyFile)))
    );
  } catch {
    return false;
  }
}

async function writeClientCa(files: ClusterTls): Promise<void> {
  const made = await issueWithNewCa({
    caName: `CN=ciba-temporal cluster client CA ${randomBytes(4).toString('hex')}`,
    subject: 'CN=ciba-temporal cluster client',
    usage: 'client',
  });
  fs.mkdirSync(path.dirname(files.clientCaFile), { recursive: true, mode: 0o700 });
  fs.writeFileSync(files.clientKeyFile, made.key, { mode: 0o600 });
  fs.writeFileSync(files.clientCertFile, made.cert, { mode: 0o600 });
  fs.writeFileSync(files.clientCaFile, made.ca, { mode: 0o600 });
}

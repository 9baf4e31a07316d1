/**
 * A local certificate authority and a server certificate for `localhost` / `127.0.0.1` / `::1`, so that local
 * https endpoints (the worker's CIBA ping endpoint: CIBA requires https) work without a public CA. Whoever must trust
 * them (the local provider's fetch) gets `ca.pem` as its only CA.
 *
 * Created once into `dir` (mode 0700; files 0600) and reused on later starts while valid. The CA's private key is
 * never written: it signs the one server certificate and is dropped, so the folder cannot mint certificates for
 * other names. When the server certificate nears expiry (or the files do not fit together), both are made anew.
 * Concurrent callers (processes starting together) are serialised by a lock file.
 */
import 'reflect-metadata'; // @peculiar/x509 (tsyringe) needs a Reflect metadata polyfill.
import { KeyObject, X509Certificate, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import * as x509 from '@peculiar/x509';

export interface LocalTls {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** PEM of the CA certificate: what clients trust. */
  ca: string;
  /** PEM of the server certificate. */
  cert: string;
  /** PEM (PKCS#8) of the server's private key. */
  key: string;
  /** True when this call made the files, false when it reused them. */
  created: boolean;
}

export const CA_FILE = 'ca.pem';
export const CERT_FILE = 'server.pem';
export const KEY_FILE = 'server-key.pem';
const LOCK_FILE = '.lock';
const VALIDITY_DAYS = 365;
/** Certificates with less than this left are replaced. */
const RENEW_BEFORE_MS = 7 * 24 * 3600 * 1000;
const LOCK_STALE_MS = 30_000;
const LOCK_WAIT_MS = 60_000;
const DAY_MS = 24 * 3600 * 1000;

const EC_KEY: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };

/** The CA and server certificate in `dir`, made if missing, expiring or inconsistent. */
export async function ensureLocalTls(dir: string): Promise<LocalTls> {
  dir = path.resolve(dir);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await fs.chmod(dir, 0o700);
  const files = {
    caFile: path.join(dir, CA_FILE),
    certFile: path.join(dir, CERT_FILE),
    keyFile: path.join(dir, KEY_FILE),
  };

  const existing = await readValid(files);
  if (existing) return existing;

  const unlock = await lock(path.join(dir, LOCK_FILE));
  try {
    const again = await readValid(files); // another process may have made them while we waited
    if (again) return again;
    const made = await generate();
    // The key and certificate before the CA: a reader that sees the new CA sees a server certificate it signed.
    await writePrivate(files.keyFile, made.key);
    await writePrivate(files.certFile, made.cert);
    await writePrivate(files.caFile, made.ca);
    return { ...files, ...made, created: true };
  } finally {
    await unlock();
  }
}

async function readValid(files: Pick<LocalTls, 'caFile' | 'certFile' | 'keyFile'>): Promise<LocalTls | undefined> {
  let ca: string, cert: string, key: string;
  try {
    [ca, cert, key] = await Promise.all([
      fs.readFile(files.caFile, 'utf8'),
      fs.readFile(files.certFile, 'utf8'),
      fs.readFile(files.keyFile, 'utf8'),
    ]);
  } catch {
    return undefined;
  }
  try {
    const caCert = new X509Certificate(ca);
    const serverCert = new X509Certificate(cert);
    const renewAt = Date.now() + RENEW_BEFORE_MS;
    const valid =
      caCert.ca &&
      new Date(caCert.validTo).getTime() > renewAt &&
      new Date(serverCert.validTo).getTime() > renewAt &&
      new Date(serverCert.validFrom).getTime() <= Date.now() &&
      serverCert.checkIssued(caCert) &&
      serverCert.verify(caCert.publicKey) &&
      serverCert.checkPrivateKey(createPrivateKey(key)) &&
      serverCert.checkHost('localhost') !== undefined &&
      serverCert.checkIP('127.0.0.1') !== undefined;
    if (!valid) return undefined;
  } catch {
    return undefined;
  }
  // Tighten modes of files made by hand or by an older version.
  await Promise.all([files.caFile, files.certFile, files.keyFile].map((f) => fs.chmod(f, 0o600)));
  return { ...files, ca, cert, key, created: false };
}

async function generate(): Promise<{ ca: string; cert: string; key: string }> {
  const tag = randomBytes(4).toString('hex');
  return issueWithNewCa({ caName: `CN=ciba-temporal local CA ${tag}`, subject: 'CN=localhost', usage: 'server' });
}

/**
 * A new CA (its private key never leaves this call) and one certificate it signs, valid for a year (from five minutes
 * ago, for small clock differences). `server`: for localhost, 127.0.0.1 and ::1 (serverAuth); `client`: clientAuth.
 * PEM, the key PKCS#8.
 */
export async function issueWithNewCa(options: {
  caName: string;
  subject: string;
  usage: 'server' | 'client';
}): Promise<{ ca: string; cert: string; key: string }> {
  const crypto = webcrypto;
  x509.cryptoProvider.set(crypto);
  const now = Date.now();
  const notBefore = new Date(now - 5 * 60 * 1000);
  const notAfter = new Date(now + VALIDITY_DAYS * DAY_MS);

  const caKeys = (await crypto.subtle.generateKey(EC_KEY, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: options.caName,
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  const keys = (await crypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const server = options.usage === 'server';
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: options.subject,
    issuer: caCert.subject,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([
        server ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
      ]),
      ...(server
        ? [
            new x509.SubjectAlternativeNameExtension([
              { type: 'dns', value: 'localhost' },
              { type: 'ip', value: '127.0.0.1' },
              { type: 'ip', value: '::1' },
            ]),
          ]
        : []),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  const key = KeyObject.from(keys.privateKey as webcrypto.CryptoKey).export({ type: 'pkcs8', format: 'pem' });
  return { ca: caCert.toString('pem'), cert: cert.toString('pem'), key: key.toString() };
}

/** A positive 16-byte serial number, hex. */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

/** Writes `file` atomically with mode 0600 (a temporary file in the same folder, then rename). */
async function writePrivate(file: string, content: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await fs.writeFile(tmp, content, { mode: 0o600, flag: 'wx' });
    await fs.chmod(tmp, 0o600);
    await fs.rename(tmp, file);
  } catch (error) {
    await fs.rm(tmp, { force: true });
    throw error;
  }
}

/** An exclusive lock file; a lock older than LOCK_STALE_MS (its holder died) is taken over. */
async function lock(file: string): Promise<() => Promise<void>> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const handle = await fs.open(file, 'wx', 0o600);
      await handle.close();
      return () => fs.rm(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const stat = await fs.stat(file).catch(() => undefined);
    if (stat && Date.now() - stat.mtimeMs > LOCK_STALE_MS) {
      await fs.rm(file, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`local TLS: lock ${file} held for too long`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

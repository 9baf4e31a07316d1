/**
 * devstack/local-tls.ts: a local CA and a localhost server certificate, made once and reused, private modes, and
 * trusted by an undici Agent that is given the CA (and only by such an Agent).
 */
import fs from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { ensureLocalTls, type LocalTls } from '../devstack/local-tls';

let dir: string;

beforeAll(async () => {
  dir = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'local-tls-')), 'tls');
});

afterAll(async () => {
  await fs.rm(path.dirname(dir), { recursive: true, force: true });
});

async function withServer<T>(tls: LocalTls, fn: (port: number) => Promise<T>): Promise<T> {
  const server = https.createServer({ cert: tls.cert, key: tls.key }, (_req, res) => res.end('hello'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await fn((server.address() as AddressInfo).port);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('ensureLocalTls', () => {
  test('creates the CA and server certificate with private modes', async () => {
    const tls = await ensureLocalTls(dir);
    expect(tls.created).toBe(true);
    expect(tls.caFile).toBe(path.join(dir, 'ca.pem'));
    expect(tls.certFile).toBe(path.join(dir, 'server.pem'));
    expect(tls.keyFile).toBe(path.join(dir, 'server-key.pem'));
    expect(tls.ca).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(tls.cert).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(tls.key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect((await fs.stat(dir)).mode & 0o777).toBe(0o700);
    for (const file of [tls.caFile, tls.certFile, tls.keyFile]) {
      expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    }
    expect(await fs.readFile(tls.keyFile, 'utf8')).toBe(tls.key);
    // No CA private key is left behind.
    expect((await fs.readdir(dir)).sort()).toEqual(['ca.pem', 'server-key.pem', 'server.pem']);
  });

  test('an https server with it is trusted by an undici Agent given the CA, for 127.0.0.1 and localhost', async () => {
    const tls = await ensureLocalTls(dir);
    await withServer(tls, async (port) => {
      const trusting = new Agent({ connect: { ca: tls.ca } });
      try {
        for (const host of ['127.0.0.1', 'localhost']) {
          const response = await request(`https://${host}:${port}/`, { dispatcher: trusting });
          expect(response.statusCode).toBe(200);
          expect(await response.body.text()).toBe('hello');
        }
      } finally {
        await trusting.close();
      }
      // Without the CA the certificate is not trusted.
      const plain = new Agent();
      try {
        await expect(request(`https://127.0.0.1:${port}/`, { dispatcher: plain })).rejects.toThrow(
          /self[- ]signed|unable to (get|verify)|certificate/i,
        );
      } finally {
        await plain.close();
      }
    });
  });

  test('reuses the files on a later call', async () => {
    const first = await ensureLocalTls(dir);
    const second = await ensureLocalTls(dir);
    expect(second.created).toBe(false);
    expect(second.ca).toBe(first.ca);
    expect(second.cert).toBe(first.cert);
    expect(second.key).toBe(first.key);
  });

  test('concurrent first calls agree on one set of files', async () => {
    const fresh = path.join(path.dirname(dir), 'concurrent');
    const results = await Promise.all(Array.from({ length: 4 }, () => ensureLocalTls(fresh)));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    for (const r of results) expect(r.ca).toBe(results[0]!.ca);
  });

  test('makes new files when they do not fit together', async () => {
    const before = await ensureLocalTls(dir);
    const other = await ensureLocalTls(path.join(path.dirname(dir), 'other'));
    await fs.writeFile(before.caFile, other.ca); // the server certificate was not issued by this CA
    const after = await ensureLocalTls(dir);
    expect(after.created).toBe(true);
    expect(after.ca).not.toBe(other.ca);
    expect(after.cert).not.toBe(before.cert);
    await withServer(after, async (port) => {
      const agent = new Agent({ connect: { ca: after.ca } });
      try {
        expect((await request(`https://localhost:${port}/`, { dispatcher: agent })).statusCode).toBe(200);
      } finally {
        await agent.close();
      }
    });
  });
});

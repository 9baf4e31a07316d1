import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK } from 'jose';
import { ConfigError } from '../common/config';
import { generatePayloadKey } from '../common/payload-codec';
import { loadWorkerConfig } from '../worker/config';

const valid = {
  CIBA_ISSUER: 'https://tenant.example.com/',
  CIBA_CLIENT_ID: 'client',
  CIBA_CLIENT_SECRET: 'secret',
  CIBA_PAYLOAD_KEY: generatePayloadKey(),
};

function errorOf(env: Record<string, string | undefined>): string {
  try {
    loadWorkerConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a configuration error');
}

describe('worker configuration', () => {
  it('reads a valid environment, with defaults', () => {
    const config = loadWorkerConfig(valid);
    expect(config.ciba).toMatchObject({
      clientId: 'client',
      clientAuth: { method: 'client_secret_basic', clientSecret: 'secret' },
      httpTimeoutMs: 10_000,
    });
    expect(config.temporal).toMatchObject({ namespace: 'default', taskQueue: 'ciba-approvals' });
    expect(config.paymentsApiUrl.href).toBe('https://tenant.example.com/api/payments');
  });

  it.each(['CIBA_ISSUER', 'CIBA_CLIENT_ID', 'CIBA_CLIENT_SECRET'])('names a missing %s', (name) => {
    expect(errorOf({ ...valid, [name]: undefined })).toContain(name);
  });

  it('names a wrong value', () => {
    expect(errorOf({ ...valid, CIBA_ISSUER: 'not a url' })).toContain('CIBA_ISSUER');
    expect(errorOf({ ...valid, CIBA_CLIENT_AUTH_METHOD: 'client_secret_jwt' })).toContain('CIBA_CLIENT_AUTH_METHOD');
    expect(errorOf({ ...valid, CIBA_HTTP_TIMEOUT_MS: 'soon' })).toContain('CIBA_HTTP_TIMEOUT_MS');
  });

  it('requires exactly one payload key source, and a 32-byte key', () => {
    expect(errorOf({ ...valid, CIBA_PAYLOAD_KEY: undefined })).toContain('CIBA_PAYLOAD_KEY');
    expect(errorOf({ ...valid, CIBA_PAYLOAD_KEY_FILE: '/some/file' })).toContain('exactly one of CIBA_PAYLOAD_KEY');
    expect(errorOf({ ...valid, CIBA_PAYLOAD_KEY: Buffer.alloc(16).toString('base64') })).toContain('32 random bytes');
    expect(errorOf({ ...valid, CIBA_PAYLOAD_KEY: undefined, CIBA_PAYLOAD_KEY_FILE: '/nonexistent/key' })).toContain(
      'CIBA_PAYLOAD_KEY_FILE: cannot read /nonexistent/key',
    );
  });

  it('counts an empty (or blank) CIBA_PAYLOAD_KEY_FILE or CIBA_PAYLOAD_KEY as unset', () => {
    // `CIBA_PAYLOAD_KEY_FILE=` in an .env file, or `${CIBA_PAYLOAD_KEY_FILE:-}` in a compose file.
    expect(() => loadWorkerConfig({ ...valid, CIBA_PAYLOAD_KEY_FILE: '' })).not.toThrow();
    expect(() => loadWorkerConfig({ ...valid, CIBA_PAYLOAD_KEY_FILE: '  ' })).not.toThrow();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ciba-key-'));
    const file = path.join(dir, 'payload-key');
    writeFileSync(file, `${valid.CIBA_PAYLOAD_KEY}\n`);
    expect(() => loadWorkerConfig({ ...valid, CIBA_PAYLOAD_KEY: '', CIBA_PAYLOAD_KEY_FILE: file })).not.toThrow();
    expect(
      loadWorkerConfig({ ...valid, CIBA_PAYLOAD_KEY: '', CIBA_PAYLOAD_KEY_FILE: file }).temporal.payloadCodec.keyId,
    ).toBe(loadWorkerConfig(valid).temporal.payloadCodec.keyId);
    // Neither really set: the one error that says what to set.
    for (const blank of [
      { CIBA_PAYLOAD_KEY: '', CIBA_PAYLOAD_KEY_FILE: '' },
      { CIBA_PAYLOAD_KEY: ' ' },
      { CIBA_PAYLOAD_KEY: undefined, CIBA_PAYLOAD_KEY_FILE: '' },
    ]) {
      expect(errorOf({ ...valid, ...blank })).toContain('set exactly one of CIBA_PAYLOAD_KEY');
    }
  });
});

describe('worker configuration: private_key_jwt', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsaPem = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ed = generateKeyPairSync('ed25519');
  const jwt = { ...valid, CIBA_CLIENT_SECRET: undefined, CIBA_CLIENT_AUTH_METHOD: 'private_key_jwt' };

  it('reads a PEM, with the RFC 7638 thumbprint as kid and RS256 for RSA', async () => {
    const { clientAuth } = loadWorkerConfig({ ...jwt, CIBA_CLIENT_PRIVATE_KEY: rsaPem }).ciba;
    const thumbprint = await calculateJwkThumbprint(await exportJWK(rsa.publicKey));
    expect(clientAuth).toMatchObject({ method: 'private_key_jwt', keyId: thumbprint, signingAlg: 'RS256' });
  });

  it('reads a private JWK with its own kid and alg, and a key file; an empty variable counts as unset', () => {
    const jwk = JSON.stringify({ ...ec.privateKey.export({ format: 'jwk' }), kid: 'ec-1' });
    expect(
      loadWorkerConfig({ ...jwt, CIBA_CLIENT_PRIVATE_KEY: jwk, CIBA_CLIENT_PRIVATE_KEY_FILE: '' }).ciba.clientAuth,
    ).toMatchObject({
      keyId: 'ec-1',
      signingAlg: 'ES256',
    });
    const rsaJwk = JSON.stringify({ ...rsa.privateKey.export({ format: 'jwk' }), kid: 'rsa-1', alg: 'PS256' });
    expect(loadWorkerConfig({ ...jwt, CIBA_CLIENT_PRIVATE_KEY: rsaJwk }).ciba.clientAuth).toMatchObject({
      keyId: 'rsa-1',
      signingAlg: 'PS256',
    });
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'ciba-config-')), 'ed25519.pem');
    writeFileSync(file, ed.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const env = { ...jwt, CIBA_CLIENT_PRIVATE_KEY: '', CIBA_CLIENT_PRIVATE_KEY_FILE: file, CIBA_CLIENT_KEY_ID: 'ed-1' };
    expect(loadWorkerConfig(env).ciba.clientAuth).toMatchObject({ keyId: 'ed-1', signingAlg: 'EdDSA' });
    expect(loadWorkerConfig({ ...env, CIBA_CLIENT_SIGNING_ALG: 'Ed25519' }).ciba.clientAuth).toMatchObject({
      signingAlg: 'Ed25519',
    });
    expect(
      loadWorkerConfig({ ...jwt, CIBA_CLIENT_PRIVATE_KEY: rsaPem, CIBA_CLIENT_SIGNING_ALG: 'PS256' }).ciba.clientAuth,
    ).toMatchObject({
      signingAlg: 'PS256',
    });
  });

  it('needs the secret only for the secret methods', () => {
    expect(loadWorkerConfig({ ...jwt, CIBA_CLIENT_PRIVATE_KEY: rsaPem }).ciba.clientAuth.method).toBe(
      'private_key_jwt',
    );
    expect(errorOf({ ...valid, CIBA_CLIENT_SECRET: '' })).toContain(
      'CIBA_CLIENT_SECRET: required for client_secret_basic',
    );
    expect(
      errorOf({ ...valid, CIBA_CLIENT_SECRET: undefined, CIBA_CLIENT_AUTH_METHOD: 'client_secret_post' }),
    ).toContain('CIBA_CLIENT_SECRET');
  });

  const mistakes: Array<[string, Record<string, string | undefined>, string]> = [
    ['no key', {}, 'CIBA_CLIENT_PRIVATE_KEY: private_key_jwt needs exactly one of'],
    [
      'a key and a key file',
      { CIBA_CLIENT_PRIVATE_KEY: rsaPem, CIBA_CLIENT_PRIVATE_KEY_FILE: '/some/file' },
      'exactly one of',
    ],
    [
      'an unreadable key file',
      { CIBA_CLIENT_PRIVATE_KEY_FILE: '/nonexistent/key.pem' },
      'CIBA_CLIENT_PRIVATE_KEY_FILE: cannot read /nonexistent/key.pem',
    ],
    [
      'a public key',
      { CIBA_CLIENT_PRIVATE_KEY: rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string },
      'CIBA_CLIENT_PRIVATE_KEY: is a public key',
    ],
    [
      'a public JWK',
      { CIBA_CLIENT_PRIVATE_KEY: JSON.stringify(ec.publicKey.export({ format: 'jwk' })) },
      'CIBA_CLIENT_PRIVATE_KEY: is a public JWK',
    ],
    ['garbage', { CIBA_CLIENT_PRIVATE_KEY: 'not a key' }, 'CIBA_CLIENT_PRIVATE_KEY: must be a PEM private key'],
    [
      'a 1024-bit RSA key',
      {
        CIBA_CLIENT_PRIVATE_KEY: generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
          type: 'pkcs8',
          format: 'pem',
        }) as string,
      },
      'at least 2048 bits',
    ],
    [
      'an X25519 key',
      {
        CIBA_CLIENT_PRIVATE_KEY: generateKeyPairSync('x25519').privateKey.export({
          type: 'pkcs8',
          format: 'pem',
        }) as string,
      },
      'CIBA_CLIENT_PRIVATE_KEY: unsupported key type x25519',
    ],
    [
      'an algorithm that does not suit the key',
      { CIBA_CLIENT_PRIVATE_KEY: rsaPem, CIBA_CLIENT_SIGNING_ALG: 'ES256' },
      'CIBA_CLIENT_SIGNING_ALG: ES256 does not suit',
    ],
    [
      'an unknown algorithm',
      { CIBA_CLIENT_PRIVATE_KEY: rsaPem, CIBA_CLIENT_SIGNING_ALG: 'HS256' },
      'CIBA_CLIENT_SIGNING_ALG',
    ],
  ];
  it.each(mistakes)('names the variable for %s', (_name, variables, message) => {
    expect(errorOf({ ...jwt, ...variables })).toContain(message);
  });

  it('never quotes the key in an error', () => {
    const broken = JSON.stringify(ec.privateKey.export({ format: 'jwk' })).slice(0, -1); // JSON.parse would quote it
    const message = errorOf({ ...jwt, CIBA_CLIENT_PRIVATE_KEY: broken });
    expect(message).toContain('CIBA_CLIENT_PRIVATE_KEY: is not valid JSON');
    expect(message).not.toContain((ec.privateKey.export({ format: 'jwk' }) as { d: string }).d);
  });
});

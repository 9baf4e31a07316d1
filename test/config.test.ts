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
    expect(config.ciba).toMatchObject({ clientId: 'client', clientAuthMethod: 'client_secret_basic', httpTimeoutMs: 10_000 });
    expect(config.temporal).toMatchObject({ namespace: 'default', taskQueue: 'ciba-approvals' });
    expect(config.paymentsApiUrl.href).toBe('https://tenant.example.com/api/payments');
  });

  it.each(['CIBA_ISSUER', 'CIBA_CLIENT_ID', 'CIBA_CLIENT_SECRET'])('names a missing %s', (name) => {
    expect(errorOf({ ...valid, [name]: undefined })).toContain(name);
  });

  it('names a wrong value', () => {
    expect(errorOf({ ...valid, CIBA_ISSUER: 'not a url' })).toContain('CIBA_ISSUER');
    expect(errorOf({ ...valid, CIBA_CLIENT_AUTH_METHOD: 'private_key_jwt' })).toContain('CIBA_CLIENT_AUTH_METHOD');
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
});

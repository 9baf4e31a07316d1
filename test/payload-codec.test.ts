import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { EncryptionCodec } from '../common/payload-codec';
import { startCodecServer } from '../devstack/codec-server';

const key = (id: string) => ({ id, key: randomBytes(32) });
const payload = defaultPayloadConverter.toPayload({ accessToken: 'eyJhbGciOi.secret' });

describe('EncryptionCodec', () => {
  it('round-trips, and the encoded payload does not contain the plaintext', async () => {
    const codec = new EncryptionCodec(key('k1'));
    const [encoded] = await codec.encode([payload]);
    expect(Buffer.from(encoded!.data!).includes('secret')).toBe(false);
    const [decoded] = await codec.decode([encoded!]);
    expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual({ accessToken: 'eyJhbGciOi.secret' });
  });

  it('decrypts with a previous key after rotation', async () => {
    const old = key('k1');
    const [encoded] = await new EncryptionCodec(old).encode([payload]);
    const rotated = new EncryptionCodec(key('k2'), [old]);
    expect(defaultPayloadConverter.fromPayload((await rotated.decode([encoded!]))[0]!)).toEqual({ accessToken: 'eyJhbGciOi.secret' });
  });

  it('refuses an unknown key id and a tampered payload', async () => {
    const [encoded] = await new EncryptionCodec(key('k1')).encode([payload]);
    await expect(new EncryptionCodec(key('k9')).decode([encoded!])).rejects.toThrow('no payload key with id "k1"');
    const tampered = { ...encoded!, data: Buffer.from(encoded!.data!).fill(0, 20, 24) };
    await expect(new EncryptionCodec(key('k1')).decode([tampered])).rejects.toThrow();
  });

  it('passes through payloads it did not encrypt', async () => {
    expect(await new EncryptionCodec(key('k1')).decode([payload])).toEqual([payload]);
  });
});

describe('the codec server for the Web UI', () => {
  it("decodes what the UI sends (with its query string), and answers CORS preflights for the UI's origin", async () => {
    const codec = new EncryptionCodec(key('k1'));
    const server = await startCodecServer(codec, 'http://127.0.0.1:8233');
    try {
      const [encoded] = await codec.encode([payload]);
      const body = JSON.stringify({
        payloads: [{ metadata: Object.fromEntries(Object.entries(encoded!.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')])), data: Buffer.from(encoded!.data!).toString('base64') }],
      });
      const response = await fetch(`${server.url}/decode?preserveStorageRefs=true`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      expect(response.status).toBe(200);
      const { payloads } = (await response.json()) as { payloads: Array<{ data: string }> };
      expect(JSON.parse(Buffer.from(payloads[0]!.data, 'base64').toString())).toEqual({ accessToken: 'eyJhbGciOi.secret' });

      const preflight = await fetch(`${server.url}/decode`, {
        method: 'OPTIONS',
        headers: { origin: 'http://127.0.0.1:8233', 'access-control-request-headers': 'content-type,x-namespace,caller-type' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:8233');
      expect(preflight.headers.get('access-control-allow-headers')).toBe('content-type,x-namespace,caller-type');
    } finally {
      await server.stop();
    }
  });
});

import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { EncryptionCodec } from '../common/payload-codec';

const key = (id: string) => ({ id, key: randomBytes(32) });

describe('EncryptionCodec', () => {
  const payload = defaultPayloadConverter.toPayload({ accessToken: 'eyJhbGciOi.secret' });

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

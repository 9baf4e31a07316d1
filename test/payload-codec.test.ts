import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { ConfigError, temporalSettings, workerDataConverter } from '../common/config';
import {
  EncryptionCodec,
  isDerivedKeyId,
  payloadKeyId,
  PayloadKeyMismatchError,
  type PayloadKey,
} from '../common/payload-codec';
import { rejectedPayloadOf } from '../common/rejected-payload';
import { FIXTURE_DIR, FIXTURE_PAYLOAD_KEY } from './replay/fixtures';

const key = (id?: string): PayloadKey => ({ id, key: randomBytes(32) });
const value = { accessToken: 'eyJhbGciOi.secret' };
const payload = defaultPayloadConverter.toPayload(value);
const keyIdMetadata = (p: Payload) => Buffer.from(p.metadata!['encryption-key-id']!).toString();
const read = (p: Payload | undefined) => defaultPayloadConverter.fromPayload(p!);

/** What the spec says a key id is: `k-` + the first 8 bytes of SHA-256 of the key, in hex. */
const specKeyId = (k: Buffer) => `k-${createHash('sha256').update(k).digest('hex').slice(0, 16)}`;

/** A payload as the codec wrote them before key ids were derived: the configured id (default `k1`) in the metadata. */
function legacyEncrypt(p: Payload, k: Buffer, id = 'k1'): Payload {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', k, iv);
  const plaintext = temporal.api.common.v1.Payload.encode(p).finish();
  return {
    metadata: { encoding: Buffer.from('binary/encrypted'), 'encryption-key-id': Buffer.from(id) },
    data: Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]),
  };
}

describe('EncryptionCodec', () => {
  it('round-trips, and the encoded payload does not contain the plaintext', async () => {
    const codec = new EncryptionCodec(key());
    const [encoded] = await codec.encode([payload]);
    expect(Buffer.from(encoded!.data!).includes('secret')).toBe(false);
    expect(read((await codec.decode([encoded!]))[0])).toEqual(value);
  });

  it('derives the key id from the key: k- and the first 8 bytes of its SHA-256, whatever id was configured', async () => {
    const k = key('k1');
    expect(payloadKeyId(k.key)).toBe(specKeyId(k.key));
    expect(payloadKeyId(k.key)).toMatch(/^k-[0-9a-f]{16}$/);
    expect(isDerivedKeyId(payloadKeyId(k.key))).toBe(true);
    expect(isDerivedKeyId('k1')).toBe(false);
    const codec = new EncryptionCodec(k);
    expect(codec.keyId).toBe(specKeyId(k.key));
    const [encoded] = await codec.encode([payload]);
    expect(keyIdMetadata(encoded!)).toBe(specKeyId(k.key));
    // Two different keys never share an id (the old default gave every key "k1").
    expect(new EncryptionCodec(key('k1')).keyId).not.toBe(codec.keyId);
  });

  it('decrypts with a previous key after rotation, and encrypts only with the current one', async () => {
    const old = key();
    const [written] = await new EncryptionCodec(old).encode([payload]);
    const current = key();
    const rotated = new EncryptionCodec(current, [old]);
    expect(rotated.keyIds).toEqual([specKeyId(current.key), specKeyId(old.key)]);
    expect(read((await rotated.decode([written!]))[0])).toEqual(value);
    const [rewritten] = await rotated.encode([payload]);
    expect(keyIdMetadata(rewritten!)).toBe(specKeyId(current.key));
  });

  it('client side: passes plaintext through, and throws PayloadKeyMismatchError naming both key ids for another key', async () => {
    const theirs = key();
    const ours = key();
    const previous = key();
    const codec = new EncryptionCodec(ours, [previous]);
    expect(await codec.decode([payload])).toEqual([payload]);

    const [encoded] = await new EncryptionCodec(theirs).encode([payload]);
    const error = await codec.decode([encoded!]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PayloadKeyMismatchError);
    expect(error).toMatchObject({
      payloadKeyId: specKeyId(theirs.key),
      keyIds: [specKeyId(ours.key), specKeyId(previous.key)],
      corrupted: false,
    });
    expect((error as Error).message).toBe(
      `payload key mismatch: the payload is encrypted with key ${specKeyId(theirs.key)}, this client has ${specKeyId(ours.key)} (and previous keys ${specKeyId(previous.key)})`,
    );
  });

  it('refuses a tampered or truncated payload that names our key', async () => {
    const k = key();
    const codec = new EncryptionCodec(k);
    const [encoded] = await codec.encode([payload]);
    const tampered = { ...encoded!, data: Buffer.from(encoded!.data!).fill(0, 20, 24) };
    await expect(codec.decode([tampered])).rejects.toMatchObject({ name: 'PayloadKeyMismatchError', corrupted: true });
    const truncated = { ...encoded!, data: Buffer.from(encoded!.data!).subarray(0, 10) };
    await expect(codec.decode([truncated])).rejects.toThrow(PayloadKeyMismatchError);
  });

  describe('legacy key ids (payloads written before ids were derived)', () => {
    it('decrypts a `k1` payload with the current key or any previous key (GCM tells which), and names k1 when none fits', async () => {
      const old = key();
      const legacy = legacyEncrypt(payload, old.key);
      expect(read((await new EncryptionCodec(old).decode([legacy]))[0])).toEqual(value);
      expect(read((await new EncryptionCodec(key(), [key(), { key: old.key }]).decode([legacy]))[0])).toEqual(value);
      expect(read((await new EncryptionCodec(key(), [{ id: 'k1', key: old.key }]).decode([legacy]))[0])).toEqual(value);
      // Any other legacy id works the same (it was configurable: CIBA_PAYLOAD_KEY_ID).
      expect(
        read((await new EncryptionCodec(key(), [old]).decode([legacyEncrypt(payload, old.key, 'prod-2024')]))[0]),
      ).toEqual(value);

      const stranger = new EncryptionCodec(key());
      await expect(stranger.decode([legacy])).rejects.toMatchObject({ payloadKeyId: 'k1', keyIds: [stranger.keyId] });
      await expect(stranger.decode([legacy])).rejects.toThrow(/encrypted with key k1, this client has k-/);
    });

    it("decrypts the recorded replay histories' k1 payloads with the fixture key", async () => {
      const index = JSON.parse(readFileSync(path.join(FIXTURE_DIR, 'index.json'), 'utf8')) as Array<{ file: string }>;
      const history = temporal.api.history.v1.History.decode(readFileSync(path.join(FIXTURE_DIR, index[0]!.file)));
      const input = history.events[0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
      expect(keyIdMetadata(input)).toBe('k1');
      const { dataConverter } = temporalSettings({ CIBA_PAYLOAD_KEY: FIXTURE_PAYLOAD_KEY });
      const [decoded] = await dataConverter.payloadCodecs![0]!.decode([input]);
      expect(read(decoded)).toMatchObject({ bindingMessage: expect.any(String) });
    });
  });

  describe("the worker's codec (onUnreadable: 'mark')", () => {
    const ours = key();
    const worker = new EncryptionCodec(ours).withUnreadable('mark', 'worker');

    it('decrypts what its key wrote', async () => {
      const [encoded] = await new EncryptionCodec(ours).encode([payload]);
      expect(read((await worker.decode([encoded!]))[0])).toEqual(value);
    });

    it('replaces a plaintext payload by a not_encrypted marker that holds none of it', async () => {
      const [marked] = await worker.decode([payload]);
      expect(rejectedPayloadOf(read(marked))).toEqual({ reason: 'not_encrypted', encoding: 'json/plain' });
      expect(Buffer.from(marked!.data!).includes('secret')).toBe(false);
    });

    it('replaces a payload of another key by a key_mismatch marker with both key ids', async () => {
      const theirs = key();
      const [encoded] = await new EncryptionCodec(theirs).encode([payload]);
      const [marked] = await worker.decode([encoded!]);
      expect(rejectedPayloadOf(read(marked))).toEqual({
        reason: 'key_mismatch',
        keyId: specKeyId(theirs.key),
        workerKeyIds: [specKeyId(ours.key)],
      });
    });

    it('is what workerDataConverter() gives, with the same keys', async () => {
      const settings = temporalSettings({ CIBA_PAYLOAD_KEY: ours.key.toString('base64') });
      const codec = workerDataConverter(settings).payloadCodecs![0]!;
      expect(rejectedPayloadOf(read((await codec.decode([payload]))[0]))).toMatchObject({ reason: 'not_encrypted' });
      // The clients' converter still passes plaintext through (failures, for one, are not encrypted).
      expect(await settings.dataConverter.payloadCodecs![0]!.decode([payload])).toEqual([payload]);
    });
  });
});

describe('CIBA_PAYLOAD_PREVIOUS_KEYS', () => {
  const current = randomBytes(32).toString('base64');
  const codecOf = (previous: string) =>
    temporalSettings({ CIBA_PAYLOAD_KEY: current, CIBA_PAYLOAD_PREVIOUS_KEYS: previous }).payloadCodec;

  it('takes plain base64 keys (ids derived) and the older id:base64 form, mixed', async () => {
    const plain = randomBytes(32);
    const legacy = randomBytes(32);
    const codec = codecOf(` ${plain.toString('base64')} , k1:${legacy.toString('base64')} `);
    expect(codec.keyIds).toEqual([specKeyId(Buffer.from(current, 'base64')), specKeyId(plain), specKeyId(legacy)]);
    expect(read((await codec.decode([legacyEncrypt(payload, legacy, 'k1')]))[0])).toEqual(value);
    expect(read((await codec.decode([legacyEncrypt(payload, plain, 'k1')]))[0])).toEqual(value);
    const [fromPlain] = await new EncryptionCodec({ key: plain }).encode([payload]);
    expect(read((await codec.decode([fromPlain!]))[0])).toEqual(value);
  });

  it('refuses a malformed entry without echoing it', () => {
    const bad = Buffer.alloc(16, 7).toString('base64');
    for (const entry of [bad, `k1:${bad}`, `bad id:${randomBytes(32).toString('base64')}`]) {
      let message = '';
      try {
        codecOf(entry);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        message = (error as Error).message;
      }
      expect(message).toContain('CIBA_PAYLOAD_PREVIOUS_KEYS');
      expect(message).not.toContain(bad);
    }
  });

  it('ignores CIBA_PAYLOAD_KEY_ID (ids are derived now), with a warning', () => {
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const codec = temporalSettings({ CIBA_PAYLOAD_KEY: current, CIBA_PAYLOAD_KEY_ID: 'k7' }).payloadCodec;
      expect(codec.keyId).toBe(specKeyId(Buffer.from(current, 'base64')));
    } finally {
      warn.mockRestore();
    }
  });
});

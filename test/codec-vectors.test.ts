/**
 * The TypeScript payload codec against the shared test vectors (contract/vectors/payload-codec.json, written by
 * contract/codec-vectors.ts). The Python codec is checked against the same file (python/tests/test_codec_vectors.py).
 */
import { METADATA_ENCODING_KEY } from '@temporalio/common';
import {
  ENCRYPTED_ENCODING,
  EncryptionCodec,
  KEY_ID_METADATA,
  payloadKeyId,
  PayloadKeyMismatchError,
} from '../common/payload-codec';
import { fromJsonPayload, plaintextPayloads, readVectors, toJsonPayload } from '../contract/codec-vectors';

const vectors = readVectors();
const key = Buffer.from(vectors.key, 'base64');
const codec = new EncryptionCodec({ key });

describe('payload codec test vectors', () => {
  it('name the codec as it is: encoding, key id metadata, derived key ids', () => {
    expect(vectors.encoding).toBe(ENCRYPTED_ENCODING);
    expect(vectors.keyIdMetadata).toBe(KEY_ID_METADATA);
    expect(key).toHaveLength(32);
    expect(vectors.keyId).toBe(payloadKeyId(key));
    expect(codec.keyId).toBe(vectors.keyId);
    expect(vectors.otherKeyId).toBe(payloadKeyId(Buffer.from(vectors.otherKey, 'base64')));
  });

  it('hold the plaintexts contract/codec-vectors.ts makes (the file is up to date)', () => {
    const expected = plaintextPayloads().map(({ name, payload }) => ({ name, plaintext: toJsonPayload(payload) }));
    expect(vectors.vectors.slice(0, expected.length).map(({ name, plaintext }) => ({ name, plaintext }))).toEqual(
      expected,
    );
  });

  it.each(vectors.vectors.map((v) => [v.name, v] as const))('decrypts "%s"', async (_name, vector) => {
    const encrypted = fromJsonPayload(vector.encrypted);
    expect(Buffer.from(encrypted.metadata![METADATA_ENCODING_KEY]!).toString()).toBe(ENCRYPTED_ENCODING);
    const [decoded] = await codec.decode([encrypted]);
    expect(toJsonPayload(decoded!)).toEqual(vector.plaintext);
    // What this codec writes for the same plaintext decrypts the same way.
    const [again] = await codec.encode([fromJsonPayload(vector.plaintext)]);
    expect(Buffer.from(again!.metadata![KEY_ID_METADATA]!).toString()).toBe(vectors.keyId);
    expect(toJsonPayload((await codec.decode([again!]))[0]!)).toEqual(vector.plaintext);
  });

  it.each(vectors.mustFail.map((v) => [v.name, v] as const))('rejects "%s" naming both key ids', async (_name, bad) => {
    const error = await codec.decode([fromJsonPayload(bad.encrypted)]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PayloadKeyMismatchError);
    const mismatch = error as PayloadKeyMismatchError;
    expect(mismatch.payloadKeyId).toBe(bad.payloadKeyId);
    expect(mismatch.keyIds).toEqual([vectors.keyId]);
    expect(mismatch.corrupted).toBe(bad.corrupted);
    expect(mismatch.message).toBe(bad.message);
  });

  it('passes payloads that are not encrypted through unchanged (client codec)', async () => {
    for (const plain of vectors.passThrough) {
      const [decoded] = await codec.decode([fromJsonPayload(plain)]);
      expect(toJsonPayload(decoded!)).toEqual(plain);
    }
  });
});

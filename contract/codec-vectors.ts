/**
 * Shared test vectors for the payload codec (common/payload-codec.ts): a fixed test key, plaintext payloads and their
 * encrypted forms as the TypeScript EncryptionCodec writes them, and payloads that must fail. Every implementation
 * of the codec (the Python one in python/ciba_temporal/codec.py) is tested against the same file:
 * test/codec-vectors.test.ts for TypeScript, python/tests/test_codec_vectors.py for Python.
 *
 *   node --import tsx contract/codec-vectors.ts      # writes contract/vectors/payload-codec.json
 *
 * The IVs are random, so each run writes other ciphertexts; any run's file is a valid contract. Bytes are base64
 * (standard alphabet, padded), as in Temporal's JSON form of a Payload.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { EXAMPLE_PAYMENT, paymentAuthorizationDetails } from '../common/payment';
import { METADATA_ENCODING_KEY, type Payload } from '@temporalio/common';
import {
  ENCRYPTED_ENCODING,
  EncryptionCodec,
  KEY_ID_METADATA,
  payloadKeyId,
  PayloadKeyMismatchError,
} from '../common/payload-codec';

export const VECTORS_FILE = path.join(__dirname, 'vectors', 'payload-codec.json');

/** A payload with its bytes in base64: `{metadata: {name: base64}, data: base64}`. */
export interface JsonPayload {
  metadata: Record<string, string>;
  data: string;
}

export interface CodecVector {
  name: string;
  /** The payload before encryption. */
  plaintext: JsonPayload;
  /** What the TypeScript codec wrote for it (decrypts to `plaintext` with `key`). */
  encrypted: JsonPayload;
}

export interface FailingVector {
  name: string;
  encrypted: JsonPayload;
  /** The key id the payload names. */
  payloadKeyId: string;
  /** The payload names our key id but does not decrypt with it (tampered, truncated). */
  corrupted: boolean;
  /** The message of the client codec's PayloadKeyMismatchError (holder "client"). */
  message: string;
}

export interface CodecVectors {
  description: string;
  /** The metadata `encoding` of every encrypted payload. */
  encoding: string;
  /** The metadata key that names the encrypting key. */
  keyIdMetadata: string;
  /** The test key: base64 of 32 bytes (AES-256-GCM). Never a real key. */
  key: string;
  /** `k-` + the first 8 bytes of SHA-256(key), hex. */
  keyId: string;
  /** Another key: payloads encrypted with it must fail with the test key. */
  otherKey: string;
  otherKeyId: string;
  /** Layout of `encrypted.data`. */
  layout: string;
  /** Must decrypt with `key` to `plaintext`. */
  vectors: CodecVector[];
  /** Not encrypted: the client codec passes them through unchanged. */
  passThrough: JsonPayload[];
  /** Must fail to decrypt with `key`: the client codec throws a key mismatch naming both key ids. */
  mustFail: FailingVector[];
}

/** A fixed, public test key (SHA-256 of a label): never use it for anything real. */
export const TEST_KEY = createHash('sha256').update('ciba-temporal payload codec test vectors: key').digest();
export const OTHER_TEST_KEY = createHash('sha256').update('ciba-temporal payload codec test vectors: other').digest();

const utf8 = (text: string) => Buffer.from(text, 'utf8');

export function toJsonPayload(payload: Payload): JsonPayload {
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(payload.metadata ?? {}))
    metadata[name] = Buffer.from(value ?? []).toString('base64');
  return { metadata, data: Buffer.from(payload.data ?? []).toString('base64') };
}

export function fromJsonPayload(json: JsonPayload): Payload {
  const metadata: Record<string, Uint8Array> = {};
  for (const [name, value] of Object.entries(json.metadata)) metadata[name] = Buffer.from(value, 'base64');
  return { metadata, data: Buffer.from(json.data, 'base64') };
}

function jsonPlain(value: unknown): Payload {
  return { metadata: { [METADATA_ENCODING_KEY]: utf8('json/plain') }, data: utf8(JSON.stringify(value)) };
}

/** The plaintext payloads: what Temporal's default converters write, and edge cases. */
export function plaintextPayloads(): { name: string; payload: Payload }[] {
  const binary = Buffer.alloc(256);
  for (let i = 0; i < binary.length; i++) binary[i] = (i * 7 + 3) % 256;
  return [
    {
      name: 'approval request (json/plain)',
      payload: jsonPlain({
        loginHint: 'alice@example.com',
        bindingMessage: 'Pay 50.00 USD to ExampleCorp',
        authorizationDetails: paymentAuthorizationDetails(EXAMPLE_PAYMENT),
      }),
    },
    { name: 'unicode string (json/plain)', payload: jsonPlain('Zahlung an Müller & Søn — 支付 ✓ 🚀 \u0000 end') },
    { name: 'null (binary/null, empty data)', payload: { metadata: { [METADATA_ENCODING_KEY]: utf8('binary/null') } } },
    { name: 'empty payload (no metadata, no data)', payload: { metadata: {}, data: new Uint8Array() } },
    {
      name: 'bytes (binary/plain, all byte values)',
      payload: { metadata: { [METADATA_ENCODING_KEY]: utf8('binary/plain') }, data: binary },
    },
    {
      name: 'extra metadata (json/protobuf with messageType)',
      payload: {
        metadata: {
          [METADATA_ENCODING_KEY]: utf8('json/protobuf'),
          messageType: utf8('temporal.api.common.v1.WorkflowType'),
        },
        data: utf8('{"name":"cibaApproval"}'),
      },
    },
    {
      name: 'large (json/plain, 48 KiB string)',
      payload: jsonPlain(
        Array.from({ length: 48 * 1024 }, (_, i) => 'abcdefghijklmnopqrstuvwxyzäöü€'[i % 30]).join(''),
      ),
    },
  ];
}

/** Builds the vectors with the TypeScript codec. */
export async function buildVectors(): Promise<CodecVectors> {
  const codec = new EncryptionCodec({ key: TEST_KEY });
  const other = new EncryptionCodec({ key: OTHER_TEST_KEY });
  const vectors: CodecVector[] = [];
  for (const { name, payload } of plaintextPayloads()) {
    const [encrypted] = await codec.encode([payload]);
    vectors.push({ name, plaintext: toJsonPayload(payload), encrypted: toJsonPayload(encrypted!) });
  }
  // A payload written before key ids were derived names a legacy id ("k1"): every key is tried for it.
  const [legacy] = await codec.encode([jsonPlain({ legacy: true })]);
  legacy!.metadata![KEY_ID_METADATA] = utf8('k1');
  vectors.push({
    name: 'legacy key id k1',
    plaintext: toJsonPayload(jsonPlain({ legacy: true })),
    encrypted: toJsonPayload(legacy!),
  });

  const sample = jsonPlain({ accessToken: 'eyJ.test.token' });
  const [ours] = await codec.encode([sample]);
  const [theirs] = await other.encode([sample]);
  const oursData = Buffer.from(ours!.data!);
  const withData = (data: Buffer): Payload => ({ metadata: ours!.metadata, data });
  const flipped = (index: number) => {
    const copy = Buffer.from(oursData);
    copy[index] = copy[index]! ^ 0x01;
    return copy;
  };
  const failing: { name: string; payload: Payload }[] = [
    { name: 'encrypted with another key', payload: theirs! },
    { name: 'tampered ciphertext', payload: withData(flipped(12 + 3)) },
    { name: 'tampered IV', payload: withData(flipped(0)) },
    { name: 'tampered tag', payload: withData(flipped(oursData.length - 1)) },
    { name: 'truncated (shorter than IV + tag)', payload: withData(oursData.subarray(0, 27)) },
    {
      name: 'another key, named with a legacy id',
      payload: { metadata: { ...theirs!.metadata, [KEY_ID_METADATA]: utf8('k1') }, data: theirs!.data },
    },
    {
      name: 'no key id',
      payload: { metadata: { [METADATA_ENCODING_KEY]: utf8(ENCRYPTED_ENCODING) }, data: theirs!.data },
    },
  ];
  const mustFail: FailingVector[] = [];
  for (const { name, payload } of failing) {
    const error = await codec.decode([payload]).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(error instanceof PayloadKeyMismatchError)) throw new Error(`vector "${name}" did not fail as it must`);
    mustFail.push({
      name,
      encrypted: toJsonPayload(payload),
      payloadKeyId: error.payloadKeyId,
      corrupted: error.corrupted,
      message: error.message,
    });
  }
  return {
    description:
      'Payload codec test vectors (contract/codec-vectors.ts): AES-256-GCM over the protobuf encoding of a temporal.api.common.v1.Payload. Bytes are base64.',
    encoding: ENCRYPTED_ENCODING,
    keyIdMetadata: KEY_ID_METADATA,
    key: TEST_KEY.toString('base64'),
    keyId: payloadKeyId(TEST_KEY),
    otherKey: OTHER_TEST_KEY.toString('base64'),
    otherKeyId: payloadKeyId(OTHER_TEST_KEY),
    layout: 'iv (12 bytes) || ciphertext || tag (16 bytes); no associated data',
    vectors,
    passThrough: [toJsonPayload(sample), toJsonPayload({ metadata: { [METADATA_ENCODING_KEY]: utf8('binary/null') } })],
    mustFail,
  };
}

export function readVectors(file = VECTORS_FILE): CodecVectors {
  return JSON.parse(readFileSync(file, 'utf8')) as CodecVectors;
}

/** Writes the vectors, formatted as the repository's prettier config wants them. */
export async function writeVectors(file = VECTORS_FILE): Promise<void> {
  const prettier = await import('prettier');
  const options = (await prettier.resolveConfig(file)) ?? {};
  const text = await prettier.format(JSON.stringify(await buildVectors()), { ...options, filepath: file });
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

if (require.main === module) {
  writeVectors().then(
    () => process.stdout.write(`wrote ${path.relative(process.cwd(), VECTORS_FILE)}\n`),
    (error: unknown) => {
      process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = 1;
    },
  );
}

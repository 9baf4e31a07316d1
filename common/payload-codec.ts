/**
 * End-to-end encryption of every Temporal payload (workflow inputs and results, activity inputs and results,
 * query results, memos, summaries): tokens, authorization details and user identifiers never reach the Temporal
 * server in plaintext. AES-256-GCM; each payload names its key in its metadata, so keys can be rotated: new payloads
 * use the current key, old ones decrypt with any key still listed.
 *
 * Key ids are derived from the keys (`k-` + the first 8 bytes of SHA-256 of the key, in hex): two parties with
 * different keys never share an id, so a mismatch is named, by both ids. Payloads written before ids were derived
 * carry a configured id (`k1` by default); for those every configured key is tried (GCM's tag tells the right one).
 *
 * Two ways to meet a payload this codec cannot read (`onUnreadable`):
 * - 'throw' (clients, the codec server): a plaintext payload passes through (failures, or workflows someone started
 *   without the codec); one no key decrypts throws PayloadKeyMismatchError, which names the key ids.
 * - 'mark' (the worker): neither passes. Each becomes a small marker payload (common/rejected-payload.ts) that the
 *   worker's workflow interceptors turn into a PayloadNotEncrypted / PayloadKeyMismatch failure, so that only
 *   holders of the key can make the worker act, and a wrong key ends the workflow instead of retrying it forever.
 *
 * Search attributes do not pass through codecs: never put anything sensitive there.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, ValueError, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { keyMismatchMessage, REJECTED_PAYLOAD_FIELD, type RejectedPayload } from './rejected-payload';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const DERIVED_KEY_ID = /^k-[0-9a-f]{16}$/;

export interface PayloadKey {
  /** 32 bytes (AES-256). */
  key: Buffer;
  /**
   * A legacy id this key was configured with before ids were derived (e.g. `k1`), which older payloads carry.
   * Optional: payloads with a legacy id are tried with every key anyway. New payloads always carry the derived id.
   */
  id?: string;
}

/** The id of a key, as written into every payload it encrypts: `k-` + first 8 bytes of SHA-256(key), hex. */
export function payloadKeyId(key: Buffer): string {
  return `k-${createHash('sha256').update(key).digest().subarray(0, 8).toString('hex')}`;
}

/** True for ids derived from a key (as opposed to legacy configured ids such as `k1`). */
export function isDerivedKeyId(id: string): boolean {
  return DERIVED_KEY_ID.test(id);
}

/** A payload that none of the configured keys decrypts. Its message names the payload's key id and ours. */
export class PayloadKeyMismatchError extends Error {
  override readonly name = 'PayloadKeyMismatchError';
  constructor(
    /** The key id in the payload's metadata. */
    readonly payloadKeyId: string,
    /** This side's key ids, current first. */
    readonly keyIds: string[],
    /** The payload names one of our key ids but does not decrypt with that key. */
    readonly corrupted = false,
    holder = 'client',
  ) {
    super(keyMismatchMessage('the payload', payloadKeyId, holder, keyIds, corrupted));
  }
}

export interface EncryptionCodecOptions {
  /** 'throw' (default): for clients. 'mark': for the worker (see the file comment). */
  onUnreadable?: 'throw' | 'mark';
  /** Who holds this codec, for messages ("client", "worker", "codec server"). */
  holder?: string;
}

interface KeyEntry {
  id: string;
  legacyId?: string;
  key: Buffer;
}

export class EncryptionCodec implements PayloadCodec {
  /** The current key's id: every payload this codec encrypts names it. */
  readonly keyId: string;
  /** Every key id this codec decrypts, current first. */
  readonly keyIds: string[];
  private readonly keys: KeyEntry[];
  private readonly onUnreadable: 'throw' | 'mark';
  private readonly holder: string;

  /**
   * Keys derived from this codec's keys (current first), for secrets that must change with the payload key, such as
   * the ping notification-token key; the keys themselves never leave the codec.
   */
  derivedKeys(derive: (key: Uint8Array) => Uint8Array): Uint8Array[] {
    return this.keys.map((entry) => derive(entry.key));
  }

  /** `current` encrypts; `current` and `previous` decrypt. */
  constructor(
    private readonly current: PayloadKey,
    private readonly previous: PayloadKey[] = [],
    private readonly options: EncryptionCodecOptions = {},
  ) {
    for (const k of [current, ...previous]) {
      if (k.key.length !== 32)
        throw new ValueError(`payload key${k.id ? ` "${k.id}"` : ''} must be 32 bytes, got ${k.key.length}`);
    }
    const entries: KeyEntry[] = [];
    for (const k of [current, ...previous]) {
      const id = payloadKeyId(k.key);
      const existing = entries.find((e) => e.id === id);
      const legacyId = k.id && k.id !== id ? k.id : undefined;
      if (!existing) entries.push({ id, legacyId, key: k.key });
      else if (legacyId && !existing.legacyId) existing.legacyId = legacyId;
    }
    this.keys = entries;
    this.keyId = entries[0]!.id;
    this.keyIds = entries.map((e) => e.id);
    this.onUnreadable = options.onUnreadable ?? 'throw';
    this.holder = options.holder ?? (this.onUnreadable === 'mark' ? 'worker' : 'client');
  }

  /** The same keys, meeting unreadable payloads the other way (the worker uses `mark`). */
  withUnreadable(onUnreadable: 'throw' | 'mark', holder?: string): EncryptionCodec {
    return new EncryptionCodec(this.current, this.previous, { ...this.options, onUnreadable, holder });
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const { key } = this.keys[0]!;
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const plaintext = temporal.api.common.v1.Payload.encode(payload).finish();
      const data = Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: {
          [METADATA_ENCODING_KEY]: Buffer.from(ENCRYPTED_ENCODING),
          [KEY_ID_METADATA]: Buffer.from(this.keyId),
        },
        data,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = Buffer.from(payload.metadata?.[METADATA_ENCODING_KEY] ?? []).toString();
      if (encoding !== ENCRYPTED_ENCODING) {
        return this.onUnreadable === 'mark' ? marker({ reason: 'not_encrypted', encoding }) : payload;
      }
      const keyId = Buffer.from(payload.metadata?.[KEY_ID_METADATA] ?? []).toString();
      const named = this.keys.filter((k) => k.id === keyId || k.legacyId === keyId);
      // A derived id is the key's own: no other key can decrypt it. A legacy id (k1) may stand for any of our keys.
      const candidates = isDerivedKeyId(keyId) ? named : [...named, ...this.keys.filter((k) => !named.includes(k))];
      const data = Buffer.from(payload.data ?? []);
      for (const { key } of candidates) {
        const plaintext = decrypt(key, data);
        if (plaintext) return temporal.api.common.v1.Payload.decode(plaintext);
      }
      const corrupted = named.length > 0;
      if (this.onUnreadable === 'mark')
        return marker({ reason: 'key_mismatch', keyId, corrupted, workerKeyIds: this.keyIds });
      throw new PayloadKeyMismatchError(keyId, this.keyIds, corrupted, this.holder);
    });
  }
}

/** The plaintext, or undefined when `key` does not decrypt `data` (wrong key, tampered, truncated). */
function decrypt(key: Buffer, data: Buffer): Uint8Array | undefined {
  if (data.length < IV_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    return Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
  } catch {
    return undefined;
  }
}

function marker(rejected: RejectedPayload): Payload {
  const clean = Object.fromEntries(
    Object.entries(rejected).filter(([, v]) => v !== undefined && v !== false && v !== ''),
  );
  return {
    metadata: { [METADATA_ENCODING_KEY]: Buffer.from('json/plain') },
    data: Buffer.from(JSON.stringify({ [REJECTED_PAYLOAD_FIELD]: clean })),
  };
}

/** A new random key, base64: what CIBA_PAYLOAD_KEY holds. */
export function generatePayloadKey(): string {
  return randomBytes(32).toString('base64');
}

/**
 * The marker the worker's payload codec puts in place of a payload it refuses to hand to workflow code: one that is
 * not encrypted (anyone who can reach the namespace can write those) or that none of its payload keys decrypts.
 * The workflow interceptors (workflows/interceptors.ts) turn a marker into a typed failure (PayloadNotEncrypted,
 * PayloadKeyMismatch) before any workflow code sees it.
 *
 * The marker holds no part of the refused payload: only why it was refused and key ids (not secret: a key id is a
 * truncated SHA-256 of the key, and already stands in every encrypted payload's metadata).
 *
 * Imported by workflow code: keep it deterministic (no I/O, no Node APIs).
 */

/** The one field of a marker value (a JSON payload). */
export const REJECTED_PAYLOAD_FIELD = '$cibaRejectedPayload';

export interface RejectedPayload {
  reason: 'not_encrypted' | 'key_mismatch';
  /** not_encrypted: the payload's own encoding (e.g. json/plain). */
  encoding?: string;
  /** key_mismatch: the key id in the payload's metadata. */
  keyId?: string;
  /** key_mismatch: the payload names one of the worker's key ids, but that key does not decrypt it (corrupted). */
  corrupted?: boolean;
  /** key_mismatch: the worker's key ids, current first. */
  workerKeyIds?: string[];
}

/** The marker, if `value` (a converted payload: a workflow argument, an activity result, ...) is one. */
export function rejectedPayloadOf(value: unknown): RejectedPayload | undefined {
  if (typeof value !== 'object' || value === null || !(REJECTED_PAYLOAD_FIELD in value)) return undefined;
  const marker = (value as Record<string, unknown>)[REJECTED_PAYLOAD_FIELD];
  if (typeof marker !== 'object' || marker === null) return undefined;
  const reason = (marker as { reason?: unknown }).reason;
  return reason === 'not_encrypted' || reason === 'key_mismatch' ? (marker as RejectedPayload) : undefined;
}

/** "k-3c4d… (and previous keys k-…, k1)". */
export function describeKeyIds(keyIds: readonly string[]): string {
  const [current, ...previous] = keyIds;
  return `${current ?? '(none)'}${previous.length ? ` (and previous keys ${previous.join(', ')})` : ''}`;
}

/**
 * "payload key mismatch: the input is encrypted with key k-1a2b…, this worker has k-3c4d… (and previous keys …)".
 * `subject` names what could not be read; `holder` who tried ("worker", "client").
 */
export function keyMismatchMessage(
  subject: string,
  payloadKeyId: string,
  holder: string,
  keyIds: readonly string[],
  corrupted = false,
): string {
  return corrupted
    ? `payload key mismatch: ${subject} names key ${payloadKeyId}, which this ${holder} has, but does not decrypt with it (corrupted, or another key with the same id); this ${holder} has ${describeKeyIds(keyIds)}`
    : `payload key mismatch: ${subject} is encrypted with key ${payloadKeyId || '(no key id)'}, this ${holder} has ${describeKeyIds(keyIds)}`;
}

/** The message of the failure a marker becomes; never contains any part of the refused payload. */
export function rejectionMessage(marker: RejectedPayload, subject: string): string {
  if (marker.reason === 'key_mismatch') {
    return keyMismatchMessage(subject, marker.keyId ?? '', 'worker', marker.workerKeyIds ?? [], marker.corrupted);
  }
  return (
    `${subject} is not encrypted with the payload key (encoding ${marker.encoding || 'none'}): only holders of the payload key ` +
    'can start approvals or send data to them (use ApprovalClient, the ciba CLI, or a Temporal client with the payload codec)'
  );
}

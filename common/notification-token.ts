/**
 * CIBA ping mode (Core 10.2): the `client_notification_token` the client hands the provider with each backchannel
 * request, which the provider sends back as the Bearer token of its ping.
 *
 * Stateless, so that nothing secret is stored anywhere (in particular not in Temporal history): a token names the
 * approval workflow it was minted for and carries an HMAC over that name and a fresh nonce.
 *
 *   token = base64url(workflowId) '.' base64url(nonce: 16 random bytes) '.' base64url(HMAC-SHA256(key, input))
 *   input = 'ciba-ping-v1' NUL workflowId NUL base64url(nonce)
 *
 * The nonce part has a fixed length, so the input is unambiguous even if a workflow ID contains NUL. Every mint
 * gives another token (128 bits of randomness each). The key is 32 bytes: either configured explicitly, or derived
 * from the payload key with `notificationKeyFrom` (HKDF), so that a worker needs no extra secret.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

const DOMAIN = 'ciba-ping-v1';
const HKDF_INFO = 'ciba-notification-token-v1';
const KEY_BYTES = 32;
const MIN_KEY_BYTES = 32;
const NONCE_BYTES = 16;
const MAC_BYTES = 32;
/** Temporal's default limit on workflow ID length. */
export const MAX_WORKFLOW_ID_BYTES = 1000;

const b64len = (bytes: number): number => Math.ceil((bytes * 4) / 3);
const NONCE_CHARS = b64len(NONCE_BYTES); // 22
const MAC_CHARS = b64len(MAC_BYTES); // 43
const MAX_WORKFLOW_ID_CHARS = b64len(MAX_WORKFLOW_ID_BYTES);
/** Longest well-formed token. Anything longer is refused before any decoding. */
export const MAX_NOTIFICATION_TOKEN_LENGTH = MAX_WORKFLOW_ID_CHARS + 1 + NONCE_CHARS + 1 + MAC_CHARS;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The notification-token key derived from the payload key (HKDF-SHA256, no salt, info 'ciba-notification-token-v1',
 * 32 bytes). Tokens minted with it stop verifying when the payload key rotates: pass the keys derived from the
 * previous payload keys to `verifyNotificationToken` as well while approvals started before the rotation may ping.
 */
export function notificationKeyFrom(payloadKey: Uint8Array): Uint8Array {
  if (!(payloadKey instanceof Uint8Array) || payloadKey.length < MIN_KEY_BYTES) {
    throw new TypeError(`the payload key must be at least ${MIN_KEY_BYTES} bytes`);
  }
  return new Uint8Array(hkdfSync('sha256', payloadKey, new Uint8Array(0), HKDF_INFO, KEY_BYTES));
}

/** The notification key to use: an explicitly configured one (at least 32 bytes), else one derived from the payload key. */
export function resolveNotificationKey(options: { explicitKey?: Uint8Array; payloadKey?: Uint8Array }): Uint8Array {
  if (options.explicitKey !== undefined) {
    checkKey(options.explicitKey);
    return options.explicitKey;
  }
  if (options.payloadKey !== undefined) return notificationKeyFrom(options.payloadKey);
  throw new TypeError('a notification key needs an explicit key or a payload key');
}

/** A new client_notification_token for the approval workflow `workflowId`. */
export function mintNotificationToken(key: Uint8Array, workflowId: string): string {
  checkKey(key);
  if (typeof workflowId !== 'string' || workflowId.length === 0) throw new TypeError('workflowId must not be empty');
  const id = Buffer.from(workflowId, 'utf8');
  if (id.length > MAX_WORKFLOW_ID_BYTES || id.toString('utf8') !== workflowId) {
    throw new TypeError(`workflowId must be well-formed text of at most ${MAX_WORKFLOW_ID_BYTES} bytes`);
  }
  const nonce = randomBytes(NONCE_BYTES).toString('base64url');
  return `${id.toString('base64url')}.${nonce}.${mac(key, workflowId, nonce).toString('base64url')}`;
}

/**
 * The workflow a token was minted for, if `token` is well-formed and its MAC verifies under one of `keys`; otherwise
 * undefined. Never throws on any `token` (only on a bad key, which is a configuration error).
 */
export function verifyNotificationToken(
  keys: Uint8Array | readonly Uint8Array[],
  token: unknown,
): { workflowId: string } | undefined {
  const keyList = keys instanceof Uint8Array ? [keys] : keys;
  for (const key of keyList) checkKey(key);
  if (typeof token !== 'string' || token.length > MAX_NOTIFICATION_TOKEN_LENGTH) return undefined;
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [idPart, noncePart, macPart] = parts as [string, string, string];
  if (idPart.length > MAX_WORKFLOW_ID_CHARS || noncePart.length !== NONCE_CHARS || macPart.length !== MAC_CHARS) {
    return undefined;
  }
  const id = strictBase64url(idPart);
  const nonce = strictBase64url(noncePart);
  const given = strictBase64url(macPart);
  if (!id || !nonce || !given || id.length === 0 || nonce.length !== NONCE_BYTES || given.length !== MAC_BYTES) {
    return undefined;
  }
  let workflowId: string;
  try {
    workflowId = utf8.decode(id);
  } catch {
    return undefined;
  }
  let valid = false;
  for (const key of keyList) {
    const expected = mac(key, workflowId, noncePart);
    // Every key is tried (no early exit), so timing does not tell which key matched.
    if (expected.length === given.length && timingSafeEqual(expected, given)) valid = true;
  }
  return valid ? { workflowId } : undefined;
}

function mac(key: Uint8Array, workflowId: string, nonce: string): Buffer {
  return createHmac('sha256', key).update(`${DOMAIN}\0${workflowId}\0${nonce}`, 'utf8').digest();
}

/** Decodes canonical unpadded base64url only (so each value has exactly one encoding); undefined otherwise. */
function strictBase64url(text: string): Buffer | undefined {
  if (!BASE64URL.test(text) || text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}

function checkKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length < MIN_KEY_BYTES) {
    throw new TypeError(`a notification key must be at least ${MIN_KEY_BYTES} bytes`);
  }
}

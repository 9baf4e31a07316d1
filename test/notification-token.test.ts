/**
 * Stateless client_notification_tokens (common/notification-token.ts): round trip, tampering, wrong keys, fresh
 * randomness per mint, and arbitrary garbage refused without throwing.
 */
import { createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import {
  MAX_NOTIFICATION_TOKEN_LENGTH,
  MAX_WORKFLOW_ID_BYTES,
  mintNotificationToken,
  notificationKeyFrom,
  resolveNotificationKey,
  verifyNotificationToken,
} from '../common/notification-token';

const key = new Uint8Array(randomBytes(32));
const otherKey = new Uint8Array(randomBytes(32));

/** Workflow IDs as Temporal accepts them: non-empty well-formed text up to 1000 UTF-8 bytes. */
const workflowIdArb = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 200 })
  .filter((s) => Buffer.byteLength(s, 'utf8') <= MAX_WORKFLOW_ID_BYTES);

function flipChar(text: string, index: number): string {
  const c = text[index]!;
  const replacement = c === 'A' ? 'B' : 'A';
  return text.slice(0, index) + replacement + text.slice(index + 1);
}

describe('notification tokens', () => {
  test('round trip for any workflow ID', () => {
    fc.assert(
      fc.property(workflowIdArb, (workflowId) => {
        const token = mintNotificationToken(key, workflowId);
        expect(token.length).toBeLessThanOrEqual(MAX_NOTIFICATION_TOKEN_LENGTH);
        expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
        expect(verifyNotificationToken(key, token)).toEqual({ workflowId });
      }),
    );
  });

  test('a workflow ID of the maximum length round-trips; a longer one cannot be minted', () => {
    const longest = 'é'.repeat(MAX_WORKFLOW_ID_BYTES / 2);
    expect(verifyNotificationToken(key, mintNotificationToken(key, longest))).toEqual({ workflowId: longest });
    expect(() => mintNotificationToken(key, `${longest}x`)).toThrow(TypeError);
    expect(() => mintNotificationToken(key, '')).toThrow(TypeError);
    expect(() => mintNotificationToken(key, '\ud800')).toThrow(TypeError); // lone surrogate
  });

  test('every mint gives a different token', () => {
    const tokens = new Set(Array.from({ length: 1000 }, () => mintNotificationToken(key, 'approval-1')));
    expect(tokens.size).toBe(1000);
    const nonces = new Set([...tokens].map((t) => t.split('.')[1]));
    expect(nonces.size).toBe(1000);
  });

  test('any changed character is refused', () => {
    fc.assert(
      fc.property(workflowIdArb, fc.nat(), (workflowId, at) => {
        const token = mintNotificationToken(key, workflowId);
        const index = at % token.length;
        if (token[index] === '.') return;
        expect(verifyNotificationToken(key, flipChar(token, index))).toBeUndefined();
      }),
    );
  });

  test('another workflow ID with the original nonce and MAC is refused', () => {
    fc.assert(
      fc.property(workflowIdArb, workflowIdArb, (a, b) => {
        fc.pre(a !== b);
        const [, nonce, mac] = mintNotificationToken(key, a).split('.');
        const forged = `${Buffer.from(b, 'utf8').toString('base64url')}.${nonce}.${mac}`;
        expect(verifyNotificationToken(key, forged)).toBeUndefined();
      }),
    );
  });

  test('the MAC of one token does not fit another nonce', () => {
    const [id, nonce1] = mintNotificationToken(key, 'wf').split('.');
    const [, , mac2] = mintNotificationToken(key, 'wf').split('.');
    expect(verifyNotificationToken(key, `${id}.${nonce1}.${mac2}`)).toBeUndefined();
  });

  test('non-canonical base64url (padding, non-zero trailing bits) is refused', () => {
    const token = mintNotificationToken(key, 'wf');
    const [id, nonce, mac] = token.split('.') as [string, string, string];
    expect(verifyNotificationToken(key, `${id}=.${nonce}.${mac}`)).toBeUndefined();
    // 'wf' is 2 bytes -> 3 chars; the last char carries 2 unused bits. Setting them keeps the bytes, not the text.
    const alias = id.slice(0, 2) + String.fromCharCode(id.charCodeAt(2) + 1);
    expect(Buffer.from(alias, 'base64url').equals(Buffer.from(id, 'base64url'))).toBe(true);
    expect(verifyNotificationToken(key, `${alias}.${nonce}.${mac}`)).toBeUndefined();
    // Standard base64 characters are not base64url.
    expect(verifyNotificationToken(key, `${id}.${nonce.replace(/./, '+')}.${mac}`)).toBeUndefined();
  });

  test('a wrong key is refused', () => {
    const token = mintNotificationToken(key, 'wf');
    expect(verifyNotificationToken(otherKey, token)).toBeUndefined();
    expect(verifyNotificationToken(notificationKeyFrom(key), token)).toBeUndefined();
  });

  test('several keys (rotation): a token verifies under any of them', () => {
    const token = mintNotificationToken(otherKey, 'wf');
    expect(verifyNotificationToken([key, otherKey], token)).toEqual({ workflowId: 'wf' });
    expect(verifyNotificationToken([key], token)).toBeUndefined();
    expect(verifyNotificationToken([], token)).toBeUndefined();
  });

  test('garbage of every shape is refused without throwing', () => {
    const valid = mintNotificationToken(key, 'wf');
    const parts = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.base64String().map((s) => s.replace(/=+$/, '')),
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('base64url')),
      fc.constantFrom('', '.', '..', '=', '\0', '\u{1F600}', ...valid.split('.')),
    );
    const tokens = fc.oneof(
      fc.anything(),
      fc.string({ unit: 'binary' }),
      fc.array(parts, { maxLength: 5 }).map((p) => p.join('.')),
      fc.tuple(parts, parts, parts).map((p) => p.join('.')),
      fc.string({ minLength: MAX_NOTIFICATION_TOKEN_LENGTH - 5, maxLength: MAX_NOTIFICATION_TOKEN_LENGTH + 5 }),
    );
    fc.assert(
      fc.property(tokens, (token) => {
        expect(() => verifyNotificationToken(key, token)).not.toThrow();
        if (token !== valid) expect(verifyNotificationToken(key, token)).toBeUndefined();
      }),
      { numRuns: 2000 },
    );
    for (const token of [undefined, null, 42, {}, [], 'a.b.c', valid + '.', '.' + valid, valid.repeat(2)]) {
      expect(verifyNotificationToken(key, token)).toBeUndefined();
    }
    // A workflow ID part that is not UTF-8, with an otherwise well-formed token.
    const [, nonce, mac] = valid.split('.');
    expect(verifyNotificationToken(key, `${Buffer.from([0xff, 0xfe]).toString('base64url')}.${nonce}.${mac}`)).toBe(
      undefined,
    );
    // Over-long token: refused on length alone.
    expect(verifyNotificationToken(key, 'A'.repeat(MAX_NOTIFICATION_TOKEN_LENGTH + 1))).toBeUndefined();
  });

  test('keys: derived from the payload key (HKDF) or explicit; short keys throw', () => {
    const payloadKey = new Uint8Array(randomBytes(32));
    const derived = notificationKeyFrom(payloadKey);
    expect(derived).toHaveLength(32);
    expect(Buffer.from(derived).equals(Buffer.from(payloadKey))).toBe(false);
    expect(notificationKeyFrom(payloadKey)).toEqual(derived); // deterministic: every worker derives the same key
    expect(resolveNotificationKey({ payloadKey })).toEqual(derived);
    expect(resolveNotificationKey({ explicitKey: key, payloadKey })).toBe(key);
    expect(() => resolveNotificationKey({})).toThrow(TypeError);
    expect(() => notificationKeyFrom(new Uint8Array(16))).toThrow(TypeError);
    expect(() => mintNotificationToken(new Uint8Array(8), 'wf')).toThrow(TypeError);
    expect(() => verifyNotificationToken(new Uint8Array(8), 'x')).toThrow(TypeError);
    const token = mintNotificationToken(derived, 'wf');
    expect(verifyNotificationToken(notificationKeyFrom(payloadKey), token)).toEqual({ workflowId: 'wf' });
  });

  test('known-answer: the HKDF derivation is HKDF-SHA256(info ciba-notification-token-v1)', () => {
    // RFC 5869 structure with an empty salt: PRK = HMAC(zeros(32), IKM); OKM = HMAC(PRK, info || 0x01).
    const ikm = Buffer.alloc(32, 7);
    const prk = createHmac('sha256', Buffer.alloc(32)).update(ikm).digest();
    const okm = createHmac('sha256', prk)
      .update(Buffer.concat([Buffer.from('ciba-notification-token-v1'), Buffer.from([1])]))
      .digest();
    expect(Buffer.from(notificationKeyFrom(ikm)).equals(okm)).toBe(true);
  });
});

/**
 * The HTTP API's approval ids, and who owns an approval: ownership that nobody but the API can forge.
 *
 * An approval started through the API has the workflow id
 *
 *   ciba-approval-api.<key id>.<idempotency part>.<tag>
 *
 * - `<key id>`: the API key that started it (api/keys.ts);
 * - `<idempotency part>`: the caller's Idempotency-Key when it is 1 to 100 characters of letters, digits and `_.:@-`,
 *   else `sha256:` and the base64url SHA-256 of it;
 * - `<tag>`: base64url of the first 16 bytes of HMAC-SHA256 under the key's *id key*, over
 *   `"<key id>.<idempotency part>"`.
 *
 * The API serves an approval (status, tokens, cancel) to the key `<key id>` names only when the tag verifies under
 * that key's id key, compared in constant time. The prefix proves nothing: anyone who holds the payload key can
 * start a workflow under any id (`ciba request --id ...`, a raw Temporal client, the `temporal` CLI), but without the
 * id key they cannot make a tag the API accepts, so an approval they start is answered 403 like any approval that
 * is not the caller's. (`ciba` refuses ids under the API's prefix outright: they are the API's.)
 *
 * The id key of an API key is derived, with HMAC-SHA256 and a fixed label, from
 * - `CIBA_API_ID_KEY` (or `CIBA_API_ID_KEY_FILE`) when it is set: one secret of the API (32 random bytes, base64)
 *   that no client, worker or CLI needs. Approvals stay their key's across a rotation of the key's secret. Set it in
 *   production, and keep it like the API keys; changing it orphans the API's running approvals (below).
 * - otherwise the SHA-256 digest of the API key's own secret, which only the API (and the key's holder, who may
 *   make tags for its own id, and gains nothing by it) knows. Rotating that key's secret (a new secret under the same
 *   id) then makes its earlier approvals unreachable through the API.
 *
 * Approvals the API cannot verify (made by an older version of the API, which gave ids without a tag; or under an
 * id key that has since changed) keep running; only `ciba` (with the payload key) reaches them.
 *
 * What the tag does not prove: that the API started the run. It proves that the API made the id. Temporal refuses a
 * second run under an id it still knows (REJECT_DUPLICATE), so a payload-key holder cannot take over an id the API
 * has used; once the namespace's retention has dropped the closed run, though, they could start a run under that
 * old id, and the API would serve it to the key that made the id when it retries the same Idempotency-Key with the
 * same body. Restrict who may start workflows in the namespace (Temporal's own authorization), as for every
 * approval.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { APPROVAL_ID_PREFIX } from '../client/approvals';
import type { ApiKeys } from './keys';

/** The approval key prefix (ApprovalClient.start's `key`) of approvals started through this API. */
export const API_APPROVAL_KEY_PREFIX = 'api.';
/** Workflow ids of approvals started through this API: `ciba-approval-api.<key id>.<idempotency part>.<tag>`. */
export const API_APPROVAL_ID_PREFIX = `${APPROVAL_ID_PREFIX}${API_APPROVAL_KEY_PREFIX}`;
/** Idempotency-Keys kept as they are in the id; others are replaced by their digest. */
const READABLE_IDEMPOTENCY_KEY = /^[\w.:@-]{1,100}$/;
const TAG_BYTES = 16;
const TAG_PATTERN = /^[A-Za-z0-9_-]{22}$/;
const ID_KEY_LABEL = 'ciba-temporal/api/approval-id/v1';

export class ApprovalIds {
  /**
   * @param keys the API keys (their secrets' digests are the id keys' source when `idSecret` is not given)
   * @param idSecret CIBA_API_ID_KEY: the API's own secret for id keys (at least 32 bytes)
   */
  constructor(
    private readonly keys: ApiKeys,
    private readonly idSecret?: Buffer,
  ) {
    if (idSecret && idSecret.length < 32) throw new Error('the approval id secret must be at least 32 bytes');
  }

  /** The approval key (ApprovalClient.start's `key`) for a caller's Idempotency-Key, with its tag. */
  keyFor(keyId: string, idempotencyKey: string): string {
    const readable = READABLE_IDEMPOTENCY_KEY.test(idempotencyKey) && !idempotencyKey.startsWith('sha256:');
    const part = readable
      ? idempotencyKey
      : `sha256:${createHash('sha256').update(idempotencyKey, 'utf8').digest('base64url')}`;
    const tag = this.tag(keyId, part);
    if (tag === undefined) throw new Error(`no API key ${JSON.stringify(keyId)}`);
    return `${API_APPROVAL_KEY_PREFIX}${keyId}.${part}.${tag.toString('base64url')}`;
  }

  /**
   * The id of the API key that owns approval `approvalId`: the key its id names, when its tag verifies under that
   * key's id key. Undefined for every other id (not the API's, an unknown key, no tag, a wrong tag).
   */
  owner(approvalId: string): string | undefined {
    if (!approvalId.startsWith(API_APPROVAL_ID_PREFIX)) return undefined;
    const rest = approvalId.slice(API_APPROVAL_ID_PREFIX.length);
    const firstDot = rest.indexOf('.');
    const lastDot = rest.lastIndexOf('.');
    if (firstDot <= 0 || lastDot <= firstDot + 1) return undefined;
    const keyId = rest.slice(0, firstDot);
    const part = rest.slice(firstDot + 1, lastDot);
    const presented = rest.slice(lastDot + 1);
    if (!TAG_PATTERN.test(presented)) return undefined;
    const expected = this.tag(keyId, part);
    if (expected === undefined) return undefined;
    // Compared as text: base64url decoding ignores a last character's spare bits, so decoded bytes would let several
    // ids (differing only there) share one tag.
    return timingSafeEqual(Buffer.from(presented), Buffer.from(expected.toString('base64url'))) ? keyId : undefined;
  }

  private tag(keyId: string, part: string): Buffer | undefined {
    const idKey = this.idKey(keyId);
    return idKey && createHmac('sha256', idKey).update(`${keyId}.${part}`, 'utf8').digest().subarray(0, TAG_BYTES);
  }

  private idKey(keyId: string): Buffer | undefined {
    const digest = this.keys.digestOf(keyId);
    if (digest === undefined) return undefined;
    return this.idSecret
      ? createHmac('sha256', this.idSecret).update(`${ID_KEY_LABEL}\n${keyId}`, 'utf8').digest()
      : createHmac('sha256', digest).update(ID_KEY_LABEL, 'utf8').digest();
  }
}

/**
 * The MCP server's approval ids, and who owns an approval: the HTTP API's design (api/approval-ids.ts), with the MCP
 * caller in place of the API key. An approval started through the MCP server has the workflow id (the task id)
 *
 *   ciba-approval-mcp.<owner>.<tool>.<nonce>.<tag>
 *
 * - `<owner>`: the caller (mcp/caller.ts): base64url of the first 16 bytes of SHA-256 over the caller's identity
 *   (issuer, token `sub` and `client_id`; on stdio, the local user), so that no claim appears in Temporal;
 * - `<tool>`: the MCP tool that asked (`request_approval`, or a gated tool such as `pay_invoice`);
 * - `<nonce>`: 16 random bytes, base64url;
 * - `<tag>`: base64url of the first 16 bytes of HMAC-SHA256 under the MCP server's id key, over the four parts.
 *
 * The server serves an approval (status, result, cancel, its task) to a caller only when the id names that caller
 * and the tag verifies (constant time): anyone else, and any id the server did not make, gets "not found", the same
 * answer as for an id that does not exist. The id key is `CIBA_MCP_ID_KEY` (32+ random bytes, base64), or, when it is
 * not set, derived from the payload key (then whoever holds the payload key could make tags: set it in production).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { APPROVAL_ID_PREFIX } from '../client/approvals';

/** The approval key prefix (ApprovalClient.start's `key`) of approvals started through the MCP server. */
export const MCP_APPROVAL_KEY_PREFIX = 'mcp.';
export const MCP_APPROVAL_ID_PREFIX = `${APPROVAL_ID_PREFIX}${MCP_APPROVAL_KEY_PREFIX}`;
const PART = /^[A-Za-z0-9_-]{22}$/;
const TOOL = /^[a-z][a-z0-9_]{0,63}$/;
const ID_KEY_LABEL = 'ciba-temporal/mcp/approval-id/v1';

/** Who is calling: the caller's identity in the id (never the claims themselves). */
export function ownerOf(identity: readonly string[]): string {
  return createHash('sha256').update(identity.join('\n'), 'utf8').digest().subarray(0, 16).toString('base64url');
}

export interface ParsedApprovalId {
  owner: string;
  tool: string;
}

export class McpApprovalIds {
  private readonly idKey: Buffer;

  /** @param secret CIBA_MCP_ID_KEY, or the payload key (at least 32 bytes either way) */
  constructor(secret: Buffer) {
    if (secret.length < 32) throw new Error('the MCP approval id key must be at least 32 bytes');
    this.idKey = createHmac('sha256', secret).update(ID_KEY_LABEL, 'utf8').digest();
  }

  /** A new approval key (ApprovalClient.start's `key`) for `owner`'s call of `tool`. */
  newKey(owner: string, tool: string): string {
    if (!PART.test(owner)) throw new Error('invalid owner');
    if (!TOOL.test(tool)) throw new Error(`invalid tool name ${JSON.stringify(tool)}`);
    const nonce = randomBytes(16).toString('base64url');
    return `${MCP_APPROVAL_KEY_PREFIX}${owner}.${tool}.${nonce}.${this.tag(owner, tool, nonce).toString('base64url')}`;
  }

  /** The owner and tool of `approvalId` when the MCP server made it (the tag verifies); undefined otherwise. */
  parse(approvalId: string): ParsedApprovalId | undefined {
    if (!approvalId.startsWith(MCP_APPROVAL_ID_PREFIX)) return undefined;
    const parts = approvalId.slice(MCP_APPROVAL_ID_PREFIX.length).split('.');
    if (parts.length !== 4) return undefined;
    const [owner, tool, nonce, tag] = parts as [string, string, string, string];
    if (!PART.test(owner) || !TOOL.test(tool) || !PART.test(nonce) || !PART.test(tag)) return undefined;
    const expected = this.tag(owner, tool, nonce);
    // Compared as text, of equal length: base64url decoding ignores a last character's spare bits (several ids would
    // share one tag), and timingSafeEqual throws on buffers of different lengths.
    const presented = Buffer.from(tag);
    const wanted = Buffer.from(expected.toString('base64url'));
    return presented.length === wanted.length && timingSafeEqual(presented, wanted) ? { owner, tool } : undefined;
  }

  /** The tool of `approvalId` when it is `owner`'s (made by this server for this caller); undefined otherwise. */
  ownedBy(approvalId: string, owner: string): string | undefined {
    const parsed = this.parse(approvalId);
    return parsed?.owner === owner ? parsed.tool : undefined;
  }

  /** Workflow ids of `owner`'s approvals start with this (visibility's STARTS_WITH; each id is still verified). */
  ownerPrefix(owner: string): string {
    return `${MCP_APPROVAL_ID_PREFIX}${owner}.`;
  }

  private tag(owner: string, tool: string, nonce: string): Buffer {
    return createHmac('sha256', this.idKey).update(`${owner}.${tool}.${nonce}`, 'utf8').digest().subarray(0, 16);
  }
}

/**
 * What an MCP caller learns about an approval: its status and current details while it runs, then its outcome: the
 * granted authorization_details when approved, a typed refusal (the failure type) when not. Never a token: tokens
 * stay in the server, for gated tools (mcp/gated-tool.ts) to use.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { AuthorizationDetail, ApprovalResult } from '../common/approval';
import { FAILURE_OUTCOMES, failureOutcome, type ApprovalStatus } from '../common/outcomes';
import { REFUSAL_OUTCOMES, type ApprovalRefusal } from '../agents/with-approval';
import type { ApprovalFailedError } from '../client/approvals';

/** An approval still waiting for the user. */
export interface PendingApproval {
  approvalId: string;
  status: ApprovalStatus;
  /** The approval's current details (what the Temporal UI shows): which ask, its expiry, the last provider answer. */
  details: string;
}

/** An approved approval, as the model sees it. */
export interface ApprovedApproval {
  approvalId: string;
  status: 'approved';
  approved: true;
  /** What the user approved, as the provider granted it (RFC 9396). */
  authorizationDetails?: AuthorizationDetail[];
  scope?: string;
  approvedAt: string;
}

export type RefusedApproval = ApprovalRefusal & { approvalId: string; status: ApprovalStatus };

export type ApprovalOutcome =
  | { kind: 'pending'; pending: PendingApproval }
  | { kind: 'approved'; approval: ApprovedApproval; result: ApprovalResult }
  | { kind: 'refused'; refusal: RefusedApproval };

export function approvedApproval(approvalId: string, result: ApprovalResult): ApprovedApproval {
  return {
    approvalId,
    status: 'approved',
    approved: true,
    ...(result.authorizationDetails && { authorizationDetails: result.authorizationDetails }),
    ...(result.scope !== undefined && { scope: result.scope }),
    approvedAt: result.approvedAt,
  };
}

/** The refusal for an approval that ended without tokens (ApprovalClient.result's ApprovalFailedError). */
export function refusedApproval(error: ApprovalFailedError): RefusedApproval {
  const known = Object.prototype.hasOwnProperty.call(REFUSAL_OUTCOMES, error.type);
  const outcome = known ? REFUSAL_OUTCOMES[error.type as keyof typeof REFUSAL_OUTCOMES] : 'failed';
  const meaning = failureOutcome(error.type)?.meaning ?? FAILURE_OUTCOMES.ApprovalFailed.meaning;
  const status = failureOutcome(error.type)?.status ?? 'failed';
  return {
    approvalId: error.workflowId,
    status,
    approved: false,
    outcome,
    failureType: error.type,
    reason: error.message && !meaning.includes(error.message) ? `${meaning} (${error.message})` : meaning,
  };
}

/** A tool result carrying `value` as structured content and as JSON text (for clients that read text only). */
export function jsonResult(value: object, isError = false): CallToolResult {
  return {
    content: [{ type: 'text', text: JSON.stringify(value, null, 2) }],
    structuredContent: value as Record<string, unknown>,
    ...(isError && { isError: true }),
  };
}

/** A tool error in words (bad arguments: nothing was started). */
export function errorResult(message: string): CallToolResult {
  return { content: [{ type: 'text', text: message }], isError: true };
}

/** The tool result of request_approval / get_approval for an outcome (a refusal is a tool error the model reads). */
export function outcomeResult(outcome: ApprovalOutcome): CallToolResult {
  if (outcome.kind === 'pending') return jsonResult(outcome.pending);
  if (outcome.kind === 'approved') return jsonResult(outcome.approval);
  return jsonResult(outcome.refusal, true);
}

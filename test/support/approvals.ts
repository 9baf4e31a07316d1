/** Helpers that look at running approvals the way an operator would: through the status query and history. */
import type { Client } from '@temporalio/client';
import type { ApprovalState } from '../../common/approval';
import { approvalStatusQuery } from '../../workflows/approval';
import { sleep } from './stack';
import { HANG_DETECTOR_MS } from './wait';

const TERMINAL = new Set(['approved', 'denied', 'expired', 'failed', 'cancelled']);

/** Waits until the approval workflow reports `predicate` (e.g. pending with an auth_req_id). */
export async function waitForApprovalState(
  client: Client,
  workflowId: string,
  predicate: (state: ApprovalState) => boolean,
  timeoutMs = HANG_DETECTOR_MS,
): Promise<ApprovalState> {
  const deadline = Date.now() + timeoutMs;
  let last: ApprovalState | undefined;
  while (Date.now() < deadline) {
    last = await client.workflow
      .getHandle(workflowId)
      .query(approvalStatusQuery)
      .catch(() => undefined);
    if (last && predicate(last)) return last;
    if (last && TERMINAL.has(last.status)) break;
    await sleep(250);
  }
  throw new Error(`approval ${workflowId} did not reach the expected state; last: ${JSON.stringify(last)}`);
}

export const isPending = (state: ApprovalState) => state.status === 'pending' && state.authReqId !== undefined;

/** The payload of a JWT, without verifying it (the payments API verifies it for real). */
export function jwtPayload(token: string): Record<string, unknown> {
  const [, payload] = token.split('.');
  if (!payload) throw new Error('not a JWT');
  return JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
}

/** The one outcome an agent sees of an approval, for tests that must show it never hangs. */
import { ApprovalFailedError, type ApprovalClient } from '../../client/approvals';
import type { ApprovalResult } from '../../common/approval';

/** Tokens, or one typed failure. */
export type ApprovalOutcome =
  { kind: 'approved'; result: ApprovalResult } | { kind: 'failed'; type: string; message: string; details: unknown[] };

/** The approval's outcome, or an error saying it hung (did not end within `timeoutMs`). */
export async function outcomeWithin(
  approvals: ApprovalClient,
  workflowId: string,
  timeoutMs: number,
): Promise<ApprovalOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`approval ${workflowId} did not end within ${timeoutMs} ms (hang)`)),
      timeoutMs,
    );
  });
  const outcome = approvals.result(workflowId).then(
    (result): ApprovalOutcome => ({ kind: 'approved', result }),
    (error: unknown): ApprovalOutcome => {
      if (error instanceof ApprovalFailedError)
        return { kind: 'failed', type: error.type, message: error.message, details: error.details };
      throw error;
    },
  );
  try {
    return await Promise.race([outcome, hung]);
  } finally {
    clearTimeout(timer);
  }
}

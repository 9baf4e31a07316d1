/**
 * Workflow side of the start seal (common/start-seal.ts): a workflow that acts for a user calls `checkStartSeal` first
 * thing, and refuses an input that was not made for this very workflow (InputNotSealed, InputReplayed) before any
 * effect. The checked seal is kept for the rest of the run, so that `requestApproval` can derive its approvals'
 * request ids from it: a copy of the input started again derives the same ids, which the user's ask gate refuses.
 */
import { workflowInfo } from '@temporalio/workflow';
import { ApprovalFailureType } from '../common/outcomes';
import type { StartSeal } from '../common/start-seal';
import { approvalFailure } from './failures';
import { sealRules } from './input-rules';

let checked: StartSeal | undefined;

/**
 * Admits this run's input, or fails the workflow (non-retryable, typed InputNotSealed or InputReplayed).
 *
 * @param seal the input's `seal`, as the starter wrote it (validated here).
 * @returns the seal, now known good for this run.
 */
export function checkStartSeal(seal: unknown): StartSeal {
  const info = workflowInfo();
  const problem = sealRules().sealProblem(seal, {
    workflowId: info.workflowId,
    runStartMs: info.runStartTime.getTime(),
    continued: info.continuedFromExecutionRunId !== undefined,
  });
  if (problem) {
    const type = problem.kind === 'not_sealed' ? ApprovalFailureType.InputNotSealed : ApprovalFailureType.InputReplayed;
    throw approvalFailure(type, problem.message);
  }
  checked = seal as StartSeal;
  return checked;
}

/** The seal `checkStartSeal` admitted in this run, if it was called. */
export function checkedStartSeal(): StartSeal | undefined {
  return checked;
}

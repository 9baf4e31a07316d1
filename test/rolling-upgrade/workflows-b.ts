/**
 * Build B of the rolling-upgrade test (test/rolling-upgrade.test.ts): the real approval workflows, with two changes
 * to the approval, each behind its own patch, as a real deploy makes them. Each records a memo (one more command,
 * ModifyWorkflowProperties) where build B ran its new path:
 * - at the start (`startedOn`): runs that started on build A replay past that point without the patch's marker, so
 *   they keep the old path; runs started on B take it, and so cannot go back to A's code while they wait;
 * - at the hand-back (`handedBackBy`): every run that gets there on B takes it, those that waited on A included.
 */
import { patched, upsertMemo } from '@temporalio/workflow';
import { cibaApproval as approvalOfBuildA } from '../../workflows/approval';

export { cibaUserAsks } from '../../workflows/user-asks';

/** The patches' IDs (`patched()`; later `deprecatePatch()`, then removed: docs/deploys.md). */
export const START_PATCH = 'rolling-upgrade-test-start';
export const HAND_BACK_PATCH = 'rolling-upgrade-test';
/** The memo keys build B writes, each with the value `build-b`. */
export const STARTED_ON = 'startedOn';
export const HANDED_BACK_BY = 'handedBackBy';

export async function cibaApproval(...args: Parameters<typeof approvalOfBuildA>): ReturnType<typeof approvalOfBuildA> {
  if (patched(START_PATCH)) upsertMemo({ [STARTED_ON]: 'build-b' });
  const result = await approvalOfBuildA(...args);
  if (patched(HAND_BACK_PATCH)) upsertMemo({ [HANDED_BACK_BY]: 'build-b' });
  return result;
}

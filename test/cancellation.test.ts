/**
 * Cancellation from every side an agent has: the client library, the CLI, and a parent agent workflow (cancelled,
 * or terminated: REQUEST_CANCEL reaches the pending approval). Polling stops at once, as the provider sees it.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { REPO_ROOT } from '../devstack/ts-process';
import { paymentAgent } from '../workflows/payment-agent';
import { isPending, waitForApprovalState } from './support/approvals';
import { providerLog, sharedStack, sleep, uniqueBindingMessage } from './support/stack';
import { useWorkerFixture } from './support/worker-fixture';

const stack = sharedStack();
const fixture = useWorkerFixture('cancel');

/** Polls the provider saw for `authReqId` after `sinceMs`, once a few polling intervals have passed. */
async function pollsAfter(authReqId: string, sinceMs: number): Promise<number> {
  await sleep(3_000); // three of the provider's 1 s intervals
  const log = await providerLog(stack.issuer, { authReqId });
  // A poll already in flight when the cancellation arrived may still land within a moment.
  return log.filter((e) => e.endpoint === 'token' && e.atMs > sinceMs + 500).length;
}

it('the client library cancels: ApprovalCancelled, and polling stops at once', async () => {
  const { workflowId } = await fixture.approvals.start({ loginHint: 'alice@example.com', bindingMessage: uniqueBindingMessage('Cancel me') });
  const { authReqId } = await waitForApprovalState(fixture.temporal, workflowId, (s) => isPending(s) && s.polls >= 1);
  const cancelledAt = Date.now();
  await fixture.approvals.cancel(workflowId);
  await expect(fixture.approvals.result(workflowId)).rejects.toMatchObject({ type: 'ApprovalCancelled' });
  expect(await pollsAfter(authReqId!, cancelledAt)).toBe(0);
  expect((await fixture.approvals.status(workflowId)).approval?.status).toBe('cancelled');
});

it('the CLI cancels', async () => {
  const { workflowId } = await fixture.approvals.start({ loginHint: 'bob@example.com', bindingMessage: uniqueBindingMessage('CLI cancel') });
  await waitForApprovalState(fixture.temporal, workflowId, isPending);
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(REPO_ROOT, 'bin', 'ciba.js'), 'cancel', workflowId], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...fixture.env },
  });
  expect(stdout).toContain(`cancellation requested: ${workflowId}`);
  await expect(fixture.approvals.result(workflowId)).rejects.toMatchObject({ type: 'ApprovalCancelled' });
});

async function startAgent(name: string) {
  const workflowId = `${name}-${Date.now()}`;
  const handle = await fixture.temporal.workflow.start(paymentAgent, {
    workflowId,
    taskQueue: fixture.env.CIBA_TASK_QUEUE!,
    args: [{ loginHint: 'alice@example.com', payment: { amount: '7.00', currency: 'USD', creditorName: name } }],
  });
  const approvalId = `${workflowId}/approval/payment`;
  const { authReqId } = await waitForApprovalState(fixture.temporal, approvalId, (s) => isPending(s) && s.polls >= 1);
  return { handle, approvalId, authReqId: authReqId! };
}

it('cancelling the parent agent workflow cancels its pending approval, which stops polling', async () => {
  const { handle, approvalId, authReqId } = await startAgent('CancelParent');
  const cancelledAt = Date.now();
  await handle.cancel();
  const error = await handle.result().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(WorkflowFailedError);
  expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  await expect(fixture.approvals.result(approvalId)).rejects.toMatchObject({ type: 'ApprovalCancelled' });
  expect(await pollsAfter(authReqId, cancelledAt)).toBe(0);
});

it('terminating the parent agent workflow cancels its pending approval (parentClosePolicy REQUEST_CANCEL)', async () => {
  const { handle, approvalId, authReqId } = await startAgent('TerminateParent');
  const terminatedAt = Date.now();
  await handle.terminate('test: the agent is gone');
  await expect(fixture.approvals.result(approvalId)).rejects.toMatchObject({ type: 'ApprovalCancelled' });
  expect(await pollsAfter(authReqId, terminatedAt)).toBe(0);
});

/**
 * Cancellation from every side an agent has: the client library, the CLI, and a parent agent workflow (cancelled,
 * or terminated: REQUEST_CANCEL reaches the pending approval). Polling stops at once, as the provider sees it.
 */
import { newStartSeal } from '../client/approvals';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { tsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { REPO_ROOT } from '../devstack/ts-process';
import { paymentAgent } from '../workflows/payment-agent';
import { isPending, waitForApprovalState } from './support/approvals';
import {
  agentQueues,
  providerLog,
  sharedStack,
  stackEnv,
  uniqueBindingMessage,
  uniqueTaskQueue,
  WITH_SAMPLE_AGENT,
} from './support/stack';
import { HANG_DETECTOR_MS } from './support/wait';
import {
  startWorkerWithClients,
  stopWorkerWithClients,
  useWorkerFixture,
  type WorkerWithClients,
} from './support/worker-fixture';

// Above the hang detectors of the waits a test makes in a row (and a worker's start).
jest.setTimeout(4 * HANG_DETECTOR_MS);

const EventType = temporal.api.enums.v1.EventType;
const stack = sharedStack();
const fixture = useWorkerFixture('cancel');

interface OwnWorker extends WorkerWithClients {
  /** Stops the worker gracefully: an activity in flight finishes first (once; the test's end stops it anyway). */
  stop(): Promise<void>;
}

/**
 * Runs `body` with a worker of its own (own task queue). Stopping that worker is how a test knows that no poll is in
 * flight any more: the graceful stop lets a running activity finish, and a stopped worker sends nothing.
 */
async function withOwnWorker(name: string, body: (worker: OwnWorker) => Promise<void>): Promise<void> {
  const running = await startWorkerWithClients(stackEnv(uniqueTaskQueue(name), WITH_SAMPLE_AGENT), `worker-${name}`);
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= stopWorkerWithClients(running));
  try {
    await body({ ...running, stop });
  } finally {
    await stop();
  }
}

/**
 * Polling stopped at once, for an approval that has ended cancelled. Its history is final then: no poll was scheduled
 * after the cancellation was recorded, and at most one was in flight at that moment (scheduled, not yet completed).
 * Once the worker has stopped, nothing it started is still in flight, so the provider's log is final too: it answered
 * no poll of `authReqId` after the cancellation, except that one in flight, if there was one. Times: the Temporal
 * server's (history) and the provider's (its log), both this machine's clock; no observation window.
 */
async function expectPollingStoppedAtCancellation(
  worker: OwnWorker,
  approvalId: string,
  authReqId: string,
): Promise<void> {
  const events = (await worker.temporal.workflow.getHandle(approvalId).fetchHistory()).events ?? [];
  const cancelRequested = events.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED);
  if (!cancelRequested) throw new Error(`no cancellation in the history of ${approvalId}`);
  const cancelId = Number(cancelRequested.eventId);
  const cancelledAtMs = tsToMs(cancelRequested.eventTime);

  const polls = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'pollToken');
  expect(polls.length).toBeGreaterThanOrEqual(1);
  expect(polls.filter((e) => Number(e.eventId) > cancelId).map((e) => Number(e.eventId))).toEqual([]);
  const closedBeforeCancel = new Set(
    events
      .filter((e) => Number(e.eventId) < cancelId)
      .map((e) =>
        Number(
          e.activityTaskCompletedEventAttributes?.scheduledEventId ??
            e.activityTaskFailedEventAttributes?.scheduledEventId ??
            e.activityTaskTimedOutEventAttributes?.scheduledEventId ??
            e.activityTaskCanceledEventAttributes?.scheduledEventId ??
            0,
        ),
      ),
  );
  const inFlight = polls.filter((e) => !closedBeforeCancel.has(Number(e.eventId))).length;
  expect(inFlight).toBeLessThanOrEqual(1);

  await worker.stop();
  const log = await providerLog(stack.issuer, { authReqId });
  const answeredAfterCancel = log.filter((e) => e.endpoint === 'token' && e.atMs > cancelledAtMs);
  expect(answeredAfterCancel.length).toBeLessThanOrEqual(inFlight);
}

it('the client library cancels: ApprovalCancelled, and polling stops at once', async () => {
  await withOwnWorker('cancel-client', async (worker) => {
    const { workflowId } = await worker.approvals.start({
      loginHint: 'alice@example.com',
      bindingMessage: uniqueBindingMessage('Cancel me'),
    });
    const { authReqId } = await waitForApprovalState(worker.temporal, workflowId, (s) => isPending(s) && s.polls >= 1);
    await worker.approvals.cancel(workflowId);
    await expect(worker.approvals.result(workflowId)).rejects.toMatchObject({ type: 'ApprovalCancelled' });
    expect((await worker.approvals.status(workflowId)).approval?.status).toBe('cancelled');
    await expectPollingStoppedAtCancellation(worker, workflowId, authReqId!);
  });
});

it('the CLI cancels', async () => {
  const { workflowId } = await fixture.approvals.start({
    loginHint: 'bob@example.com',
    bindingMessage: uniqueBindingMessage('CLI cancel'),
  });
  await waitForApprovalState(fixture.temporal, workflowId, isPending);
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [path.join(REPO_ROOT, 'bin', 'ciba.js'), 'cancel', workflowId],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, ...fixture.env },
    },
  );
  expect(stdout).toContain(`cancellation requested: ${workflowId}`);
  await expect(fixture.approvals.result(workflowId)).rejects.toMatchObject({ type: 'ApprovalCancelled' });
});

async function startAgent(worker: OwnWorker, name: string) {
  const workflowId = `${name}-${Date.now()}`;
  const handle = await worker.temporal.workflow.start(paymentAgent, {
    workflowId,
    taskQueue: agentQueues(worker.env).taskQueue,
    args: [
      {
        approvalTaskQueue: agentQueues(worker.env).approvalTaskQueue,
        loginHint: 'alice@example.com',
        payment: { amount: '7.00', currency: 'USD', creditorName: name },
        seal: newStartSeal(workflowId),
      },
    ],
  });
  const approvalId = `${workflowId}/approval/payment`;
  const { authReqId } = await waitForApprovalState(worker.temporal, approvalId, (s) => isPending(s) && s.polls >= 1);
  return { handle, approvalId, authReqId: authReqId! };
}

it('cancelling the parent agent workflow cancels its pending approval, which stops polling', async () => {
  await withOwnWorker('cancel-parent', async (worker) => {
    const { handle, approvalId, authReqId } = await startAgent(worker, 'CancelParent');
    await handle.cancel();
    const error = await handle.result().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    await expect(worker.approvals.result(approvalId)).rejects.toMatchObject({ type: 'ApprovalCancelled' });
    await expectPollingStoppedAtCancellation(worker, approvalId, authReqId);
  });
});

it('terminating the parent agent workflow cancels its pending approval (parentClosePolicy REQUEST_CANCEL)', async () => {
  await withOwnWorker('terminate-parent', async (worker) => {
    const { handle, approvalId, authReqId } = await startAgent(worker, 'TerminateParent');
    await handle.terminate('test: the agent is gone');
    await expect(worker.approvals.result(approvalId)).rejects.toMatchObject({ type: 'ApprovalCancelled' });
    await expectPollingStoppedAtCancellation(worker, approvalId, authReqId);
  });
});

/**
 * Compact mode's tiers on the real stack (dev server, local provider): after a short fast tier (2 s here, by
 * CIBA_COMPACT_FAST_SECONDS), a slow-tier activity polls on and heartbeats rarely. A decision in the slow tier is
 * seen; a cancelled slow-tier approval ends without waiting for its (hour-long) heartbeat period; a worker killed in
 * the slow tier is replaced and its polling resumes after the (short, configured) heartbeat timeout.
 */
import { readFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { ApprovalRequestInput } from '../common/approval';
import { slowTierHeartbeatTimeoutMs } from '../common/polling';
import { isPending, waitForApprovalState } from './support/approvals';
import {
  Device,
  providerLog,
  sharedStack,
  stackEnv,
  startWorker,
  uniqueBindingMessage,
  uniqueTaskQueue,
} from './support/stack';
import { HANG_DETECTOR_MS, waitUntil } from './support/wait';
import { startWorkerWithClients, stopWorkerWithClients, useWorkerFixture } from './support/worker-fixture';

jest.setTimeout(4 * HANG_DETECTOR_MS);

const EventType = temporal.api.enums.v1.EventType;
const stack = sharedStack();
const device = new Device(stack.issuer);
const FAST_SECONDS = 2;
/** Ten minutes between slow-tier heartbeats: nothing in these tests may wait for one. */
const RARE_HEARTBEATS = { fastSeconds: FAST_SECONDS, slowHeartbeatSeconds: 600 };
const fixture = useWorkerFixture('compact-tiers', {
  CIBA_POLLING_MODE: 'compact',
  CIBA_COMPACT_FAST_SECONDS: String(RARE_HEARTBEATS.fastSeconds),
  CIBA_COMPACT_SLOW_HEARTBEAT_SECONDS: String(RARE_HEARTBEATS.slowHeartbeatSeconds),
});

function request(prefix: string): ApprovalRequestInput {
  return { loginHint: 'alice@example.com', bindingMessage: uniqueBindingMessage(prefix), requestedExpiry: 3_600 };
}

async function tokenRequests(authReqId: string) {
  return (await providerLog(stack.issuer, { authReqId })).filter((e) => e.endpoint === 'token');
}

/** The approval's pollUntilDecided activities as scheduled: their heartbeat timeouts, in order. */
async function compactActivities(client: Client, workflowId: string): Promise<number[]> {
  const { events } = await client.workflow.getHandle(workflowId).fetchHistory();
  return (events ?? [])
    .flatMap((e) => e.activityTaskScheduledEventAttributes ?? [])
    .filter((a) => a.activityType?.name === 'pollUntilDecided')
    .map((a) => Number(a.heartbeatTimeout?.seconds ?? 0) * 1000 + Math.round((a.heartbeatTimeout?.nanos ?? 0) / 1e6));
}

/** Waits until the slow tier's activity is scheduled and has polled the provider at least once. */
async function inSlowTier(client: Client, workflowId: string, authReqId: string): Promise<void> {
  await waitUntil(async () => (await compactActivities(client, workflowId)).length === 2, 'the slow tier to start');
  const scheduledAt = Date.now();
  await waitUntil(
    async () => (await tokenRequests(authReqId)).some((e) => e.atMs >= scheduledAt),
    'a poll in the slow tier',
  );
}

it('a decision in the slow tier is seen: the fast tier hands over, the slow one polls on and returns it', async () => {
  const { workflowId } = await fixture.approvals.start(request('Tiers approve'));
  const { authReqId } = await waitForApprovalState(fixture.temporal, workflowId, isPending);
  await inSlowTier(fixture.temporal, workflowId, authReqId!);
  await device.decide(authReqId!, 'approve');

  expect((await fixture.approvals.result(workflowId)).accessToken).toEqual(expect.any(String));
  expect(await compactActivities(fixture.temporal, workflowId)).toEqual([
    20_000, // the fast tier's
    slowTierHeartbeatTimeoutMs(RARE_HEARTBEATS), // below the activity's start-to-close (the ask's hour), which caps it
  ]);
  const polls = await tokenRequests(authReqId!);
  expect(polls.filter((e) => e.status === 200)).toHaveLength(1);
  expect(polls.filter((e) => e.error === 'slow_down')).toEqual([]); // the slow tier kept to the interval
  const { approval } = await fixture.approvals.status(workflowId);
  expect(approval).toMatchObject({ status: 'approved', polls: polls.length });
});

it('cancelled in the slow tier: ends without waiting for the next heartbeat, and nothing is polled after', async () => {
  const { workflowId } = await fixture.approvals.start(request('Tiers cancel'));
  const { authReqId } = await waitForApprovalState(fixture.temporal, workflowId, isPending);
  await inSlowTier(fixture.temporal, workflowId, authReqId!);

  await fixture.approvals.cancel(workflowId);
  // The workflow waits for the activity to acknowledge the cancellation; with 10 minutes between heartbeats, only the
  // heartbeat it was asked for (local activity heartbeatWaitingPoll) lets this end within the test's time.
  await expect(fixture.approvals.result(workflowId)).rejects.toMatchObject({ type: 'ApprovalCancelled' });
  await waitUntil(
    () => readFileSync(fixture.worker.logFile, 'utf8').includes('compact polling stopped'),
    'the polling activity to see the cancellation',
  );
  const { events } = await fixture.temporal.workflow.getHandle(workflowId).fetchHistory();
  expect((events ?? []).some((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED)).toBe(true);
  const markers = (events ?? []).filter((e) => e.eventType === EventType.EVENT_TYPE_MARKER_RECORDED);
  expect(markers.length).toBeGreaterThanOrEqual(2); // the wait settings' local activity, and the wake-up's
  expect((await tokenRequests(authReqId!)).filter((e) => e.status === 200)).toEqual([]);
});

it('a worker killed with SIGKILL in the slow tier: another attempt resumes after the heartbeat timeout, tokens once', async () => {
  // Short slow-tier heartbeats (2 s; timeout 7 s) so that the dead worker is noticed within the test.
  const running = await startWorkerWithClients(
    stackEnv(uniqueTaskQueue('compact-tiers-kill'), {
      CIBA_POLLING_MODE: 'compact',
      CIBA_COMPACT_FAST_SECONDS: String(FAST_SECONDS),
      CIBA_COMPACT_SLOW_HEARTBEAT_SECONDS: '2',
    }),
    'worker-compact-tiers-before-kill',
  );
  try {
    const { workflowId } = await running.approvals.start(request('Tiers SIGKILL'));
    const { authReqId } = await waitForApprovalState(running.temporal, workflowId, isPending);
    await inSlowTier(running.temporal, workflowId, authReqId!);

    await running.worker.kill('SIGKILL');
    running.worker = await startWorker(running.env, 'worker-compact-tiers-after-kill');
    const before = (await tokenRequests(authReqId!)).length;
    await waitUntil(async () => (await tokenRequests(authReqId!)).length > before, 'the next attempt to poll');
    await device.decide(authReqId!, 'approve');
    expect((await running.approvals.result(workflowId)).accessToken).toEqual(expect.any(String));

    const { events } = await running.temporal.workflow.getHandle(workflowId).fetchHistory();
    const slowStarted = (events ?? [])
      .filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED)
      .map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 1);
    expect(Math.max(...slowStarted)).toBeGreaterThanOrEqual(2);
    expect(await compactActivities(running.temporal, workflowId)).toHaveLength(2); // the same slow-tier activity
    const polls = await tokenRequests(authReqId!);
    expect(polls.filter((e) => e.status === 200)).toHaveLength(1);
  } finally {
    await stopWorkerWithClients(running);
  }
});

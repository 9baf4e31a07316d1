/**
 * Compact polling mode on the real stack: one heartbeating activity per ask polls the provider until a final answer.
 * Each case ends as it does in timer mode (approval.test.ts, durability.test.ts, cancellation.test.ts), and the
 * provider's own log shows the requests it got.
 */
import { readFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { ApprovalRequestInput } from '../common/approval';
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
// Compact mode chosen per worker: requests that name no pollingMode use it.
const fixture = useWorkerFixture('compact', { CIBA_POLLING_MODE: 'compact' });

function request(prefix: string, extra: Partial<ApprovalRequestInput> = {}): ApprovalRequestInput {
  return { loginHint: 'alice@example.com', bindingMessage: uniqueBindingMessage(prefix), ...extra };
}

async function tokenRequests(authReqId: string) {
  return (await providerLog(stack.issuer, { authReqId })).filter((e) => e.endpoint === 'token');
}

async function initiations(bindingMessage: string) {
  return (await providerLog(stack.issuer, { bindingMessage })).filter((e) => e.endpoint === 'bc-authorize');
}

/** The activity types the approval scheduled, in order (but its metrics reports: workflows/metrics.ts). */
async function scheduledActivities(client: Client, workflowId: string): Promise<string[]> {
  const { events } = await client.workflow.getHandle(workflowId).fetchHistory();
  return (events ?? [])
    .flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? [])
    .filter((name) => name !== 'recordApprovalMetrics');
}

/** Waits until the provider has answered `count` polls of `authReqId`. */
async function polledAtLeast(authReqId: string, count: number) {
  return waitUntil(async () => {
    const polls = await tokenRequests(authReqId);
    return polls.length >= count && polls;
  }, `${count} polls of the request`);
}

it('approved: one polling activity per ask polls at the interval, and the status counts every poll the provider saw', async () => {
  const input = request('Compact approve');
  const { workflowId } = await fixture.approvals.start(input);
  const { authReqId } = await waitForApprovalState(fixture.temporal, workflowId, isPending);
  await polledAtLeast(authReqId!, 3);
  // The status shows the polling activity's progress from its heartbeats (throttled by the SDK: wait for one).
  const { compactPolling } = await waitUntil(async () => {
    const report = await fixture.approvals.status(workflowId);
    return (report.compactPolling?.polls ?? 0) >= 1 && report;
  }, 'a heartbeat with polls');
  expect(compactPolling).toMatchObject({ attempt: 1, intervalSeconds: 1, lastAnswer: 'authorization_pending' });
  await device.decide(authReqId!, 'approve');

  const result = await fixture.approvals.result(workflowId);
  expect(result.accessToken).toEqual(expect.any(String));
  // Each ask: the user's ask gate grants it (an activity since the patch ask-gate-activity), then it is sent.
  expect(await scheduledActivities(fixture.temporal, workflowId)).toEqual([
    'grantAsk',
    'requestBackchannelAuthentication',
    'pollUntilDecided',
  ]);
  const polls = await tokenRequests(authReqId!);
  expect(polls.filter((e) => e.status === 200)).toHaveLength(1);
  // The provider answers slow_down to a poll that comes sooner than its interval: none did.
  expect(polls.filter((e) => e.error === 'slow_down')).toEqual([]);
  const { approval } = await fixture.approvals.status(workflowId);
  expect(approval).toMatchObject({ status: 'approved', polls: polls.length, slowDowns: 0 });
  expect(await initiations(input.bindingMessage)).toHaveLength(1);
});

it('a request may choose timer mode on a compact worker (and the other way round)', async () => {
  const { workflowId } = await fixture.approvals.start(request('Timer on compact', { pollingMode: 'timer' }));
  const { authReqId } = await waitForApprovalState(fixture.temporal, workflowId, (s) => isPending(s) && s.polls >= 1);
  await device.decide(authReqId!, 'approve');
  await fixture.approvals.result(workflowId);
  const activities = await scheduledActivities(fixture.temporal, workflowId);
  expect(activities).toContain('pollToken');
  expect(activities).not.toContain('pollUntilDecided');
});

it('denied: ApprovalDenied, asked once, and the polling ends with the answer', async () => {
  const input = request('Compact deny');
  const { workflowId } = await fixture.approvals.start(input);
  const { authReqId } = await waitForApprovalState(fixture.temporal, workflowId, isPending);
  await polledAtLeast(authReqId!, 1);
  await device.decide(authReqId!, 'deny');

  await expect(fixture.approvals.result(workflowId)).rejects.toMatchObject({ type: 'ApprovalDenied' });
  const polls = await tokenRequests(authReqId!);
  expect(polls[polls.length - 1]).toMatchObject({ error: 'access_denied' });
  expect(await initiations(input.bindingMessage)).toHaveLength(1);
  expect((await fixture.approvals.status(workflowId)).approval).toMatchObject({
    status: 'denied',
    polls: polls.length,
  });
});

it('slow_down: every later poll comes at least 5 s further apart, as the provider saw them', async () => {
  const { workflowId } = await fixture.approvals.start(request('Compact slow down', { loginHint: 'bob@example.com' }));
  const { authReqId } = await waitForApprovalState(fixture.temporal, workflowId, isPending);
  await polledAtLeast(authReqId!, 2);
  const response = await fetch(`${stack.issuer}/dev/requests/${authReqId}/slow-down`, { method: 'POST' });
  expect(response.ok).toBe(true);
  const log = await polledAtLeast(authReqId!, 5);
  await device.decide(authReqId!, 'approve');
  await fixture.approvals.result(workflowId);

  const slowDownAt = log.findIndex((e) => e.error === 'slow_down');
  expect(slowDownAt).toBeGreaterThanOrEqual(2);
  const all = await tokenRequests(authReqId!);
  expect(all.filter((e) => e.error === 'slow_down')).toHaveLength(1); // none came too soon after it
  const gaps = all.slice(slowDownAt + 1).map((e, i) => e.atMs - all[slowDownAt + i]!.atMs);
  expect(gaps.length).toBeGreaterThanOrEqual(2);
  for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(6_000); // 1 s + 5 s
  expect((await fixture.approvals.status(workflowId)).approval).toMatchObject({
    status: 'approved',
    slowDowns: 1,
    intervalSeconds: 6,
    polls: all.length,
  });
});

it('expiry: asked again by the policy, then ApprovalExpired; the provider saw one request per ask', async () => {
  const input = request('Compact expire', { requestedExpiry: 10, askAgain: { maxAsks: 2, delayBetweenAsks: 5 } });
  const { workflowId } = await fixture.approvals.start(input);
  await expect(fixture.approvals.result(workflowId)).rejects.toMatchObject({ type: 'ApprovalExpired' });
  const { approval } = await fixture.approvals.status(workflowId);
  expect(approval?.asks.map((ask) => [ask.reason, ask.outcome])).toEqual([
    ['first', 'expired'],
    ['expired', 'expired'],
  ]);
  expect(await initiations(input.bindingMessage)).toHaveLength(2);
  expect(await scheduledActivities(fixture.temporal, workflowId)).toEqual([
    'grantAsk',
    'requestBackchannelAuthentication',
    'pollUntilDecided',
    'grantAsk',
    'requestBackchannelAuthentication',
    'pollUntilDecided',
  ]);
});

it('a worker killed with SIGKILL mid-wait: polling resumes on the restarted worker from its heartbeat, asked once, tokens once', async () => {
  const running = await startWorkerWithClients(
    stackEnv(uniqueTaskQueue('compact-kill'), { CIBA_POLLING_MODE: 'compact' }),
    'worker-compact-before-kill',
  );
  try {
    const input = request('Compact SIGKILL');
    const { workflowId } = await running.approvals.start(input);
    const { authReqId } = await waitForApprovalState(running.temporal, workflowId, isPending);
    await polledAtLeast(authReqId!, 2);

    await running.worker.kill('SIGKILL');
    running.worker = await startWorker(running.env, 'worker-compact-after-kill');
    const before = (await tokenRequests(authReqId!)).length;
    await polledAtLeast(authReqId!, before + 1); // the retry polls (after the heartbeat timeout)
    await device.decide(authReqId!, 'approve');
    expect((await running.approvals.result(workflowId)).accessToken).toEqual(expect.any(String));

    const { events } = await running.temporal.workflow.getHandle(workflowId).fetchHistory();
    const started = (events ?? []).filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED);
    expect(Math.max(...started.map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 1))).toBeGreaterThanOrEqual(
      2,
    );
    const polls = await tokenRequests(authReqId!);
    expect(polls.filter((e) => e.status === 200)).toHaveLength(1);
    expect(polls.filter((e) => e.error === 'slow_down')).toEqual([]); // the resumed polling kept the interval
    expect(await initiations(input.bindingMessage)).toHaveLength(1);
  } finally {
    await stopWorkerWithClients(running);
  }
});

it('cancelled: ApprovalCancelled at once, and the polling activity stops at its next heartbeat', async () => {
  const running = await startWorkerWithClients(
    stackEnv(uniqueTaskQueue('compact-cancel'), { CIBA_POLLING_MODE: 'compact' }),
    'worker-compact-cancel',
  );
  try {
    const { workflowId } = await running.approvals.start(request('Compact cancel'));
    const { authReqId } = await waitForApprovalState(running.temporal, workflowId, isPending);
    await polledAtLeast(authReqId!, 1);
    await running.approvals.cancel(workflowId);
    await expect(running.approvals.result(workflowId)).rejects.toMatchObject({ type: 'ApprovalCancelled' });
    expect((await running.approvals.status(workflowId)).approval?.status).toBe('cancelled');

    await waitUntil(
      () => readFileSync(running.worker.logFile, 'utf8').includes('compact polling stopped'),
      'the polling activity to see the cancellation',
    );
    const afterStop = (await tokenRequests(authReqId!)).length;
    await stopWorkerWithClients(running);
    expect(await tokenRequests(authReqId!)).toHaveLength(afterStop); // nothing polled after it stopped
    expect((await tokenRequests(authReqId!)).filter((e) => e.status === 200)).toEqual([]);
  } finally {
    await stopWorkerWithClients(running);
  }
});

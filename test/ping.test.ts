/**
 * CIBA ping mode end to end (Core 10.2): the local provider pings the worker's https notification endpoint when the
 * user decides, and the approval polls at once. The provider's interval is an hour, so any poll before the approval's
 * end was caused by a ping: the provider's log counts them.
 */
import { Agent, fetch as undiciFetch } from 'undici';
import { mintNotificationToken, notificationKeyFrom } from '../common/notification-token';
import type { ApprovalRequestInput, PollingMode } from '../common/approval';
import { pingSetup } from '../devstack/local-ping';
import type { LocalTls } from '../devstack/local-tls';
import { isPending, waitForApprovalState } from './support/approvals';
import {
  Device,
  providerLog,
  sharedStack,
  stackEnv,
  startProvider,
  uniqueBindingMessage,
  uniqueTaskQueue,
  type StartedProvider,
} from './support/stack';
import { HANG_DETECTOR_MS, waitUntil } from './support/wait';
import { startWorkerWithClients, stopWorkerWithClients, type WorkerWithClients } from './support/worker-fixture';

jest.setTimeout(4 * HANG_DETECTOR_MS);

const stack = sharedStack();
let tls: LocalTls;
let endpoint: string;
let provider: StartedProvider;
let running: WorkerWithClients;
let device: Device;
let trustingAgent: Agent;

beforeAll(async () => {
  const ping = await pingSetup();
  tls = ping.tls;
  endpoint = ping.endpoint;
  trustingAgent = new Agent({ connect: { ca: tls.ca } });
  provider = await startProvider({ IDP_POLL_INTERVAL: '3600', ...ping.providerEnv });
  device = new Device(provider.issuer);
  running = await startWorkerWithClients(
    stackEnv(uniqueTaskQueue('ping'), { CIBA_ISSUER: provider.issuer, ...ping.workerEnv }),
    'worker-ping',
  );
});

afterAll(async () => {
  await stopWorkerWithClients(running ?? {});
  await provider?.kill();
  await trustingAgent?.close();
});

function request(prefix: string, pollingMode?: PollingMode): ApprovalRequestInput {
  return { loginHint: 'alice@example.com', bindingMessage: uniqueBindingMessage(prefix), pollingMode };
}

async function tokenRequests(authReqId: string) {
  return (await providerLog(provider.issuer, { authReqId })).filter((e) => e.endpoint === 'token');
}

/** A ping as the provider sends it; `token` minted with the worker's key unless given. */
async function ping(workflowId: string, authReqId: string, token?: string): Promise<number> {
  const key = notificationKeyFrom(Buffer.from(stack.payloadKey, 'base64'));
  const response = await undiciFetch(endpoint, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token ?? mintNotificationToken(key, workflowId)}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({ auth_req_id: authReqId }),
    dispatcher: trustingAgent,
  });
  await response.body?.cancel();
  return response.status;
}

for (const mode of ['timer', 'compact'] as const) {
  it(`${mode} mode: the provider's ping makes the approval poll at once, long before the next poll would have run`, async () => {
    const { workflowId } = await running.approvals.start(request(`Ping ${mode}`, mode));
    const { authReqId } = await waitForApprovalState(running.temporal, workflowId, isPending);
    await device.decide(authReqId!, 'approve');

    const result = await running.approvals.result(workflowId);
    expect(result.accessToken).toEqual(expect.any(String));
    // The interval is an hour: the only poll is the one the ping caused.
    const polls = await tokenRequests(authReqId!);
    expect(polls.map((e) => e.status)).toEqual([200]);

    // A duplicate ping, with a valid token, changes nothing.
    expect(await ping(workflowId, authReqId!)).toBe(204);
    expect(await tokenRequests(authReqId!)).toHaveLength(1);
  });
}

it('a denial is pinged too: ApprovalDenied at once', async () => {
  const { workflowId } = await running.approvals.start(request('Ping deny'));
  const { authReqId } = await waitForApprovalState(running.temporal, workflowId, isPending);
  await device.decide(authReqId!, 'deny');
  await expect(running.approvals.result(workflowId)).rejects.toMatchObject({ type: 'ApprovalDenied' });
  expect((await tokenRequests(authReqId!)).map((e) => e.error)).toEqual(['access_denied']);
});

it('a wrong token, another approval, an unknown auth_req_id and a repeated ping cause no poll', async () => {
  const { workflowId } = await running.approvals.start(request('Ping forged'));
  const { authReqId } = await waitForApprovalState(running.temporal, workflowId, isPending);
  const other = await running.approvals.start(request('Ping other'));
  await waitForApprovalState(running.temporal, other.workflowId, isPending);

  expect(await ping(workflowId, authReqId!, 'not-a-token')).toBe(401);
  const otherKey = notificationKeyFrom(Buffer.alloc(32, 7));
  expect(await ping(workflowId, authReqId!, mintNotificationToken(otherKey, workflowId))).toBe(401);
  // A valid token of another approval names this request: that approval ignores an ask not its own.
  expect(await ping(other.workflowId, authReqId!)).toBe(204);
  // A valid token of this approval with an auth_req_id it never had.
  expect(await ping(workflowId, 'unknown-auth-req-id')).toBe(204);
  // The approvals took in every signal (they are in the histories), and none of them polled.
  await waitForSignals(workflowId, 1);
  await waitForSignals(other.workflowId, 1);
  expect(await tokenRequests(authReqId!)).toEqual([]);

  // A valid ping, twice, before the user decided: one poll (the provider paces it: slow_down), then nothing within
  // the interval.
  expect(await ping(workflowId, authReqId!)).toBe(204);
  expect(await ping(workflowId, authReqId!)).toBe(204);
  await waitForSignals(workflowId, 3);
  await waitForApprovalState(running.temporal, workflowId, (s) => s.polls >= 1);
  expect(await tokenRequests(authReqId!)).toHaveLength(1);

  await running.approvals.cancel(workflowId);
  await running.approvals.cancel(other.workflowId);
});

/** Waits until the approval's history holds `count` ping signals, and a workflow task after the last. */
async function waitForSignals(workflowId: string, count: number): Promise<void> {
  await waitUntil(async () => {
    const { events } = await running.temporal.workflow.getHandle(workflowId).fetchHistory();
    const list = events ?? [];
    const signals = list.filter((e) => e.workflowExecutionSignaledEventAttributes);
    if (signals.length < count) return false;
    const last = Number(signals[signals.length - 1]!.eventId);
    return list.some((e) => Number(e.eventId) > last && e.workflowTaskCompletedEventAttributes);
  }, `${count} pings in the history of ${workflowId}`);
}

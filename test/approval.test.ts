/**
 * The approval flow end to end on the real stack: Temporal dev server, local CIBA provider over HTTP, a worker
 * process. The user's decisions are made through the provider's device API.
 */
import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { ApplicationFailure, ChildWorkflowFailure } from '@temporalio/common';
import { temporal as temporalProto } from '@temporalio/proto';
import {
  ApprovalFailedError,
  InvalidApprovalRequestError,
  newStartSeal,
  type ApprovalClient,
} from '../client/approvals';
import { paymentAuthorizationDetails, paymentBindingMessage, type Payment } from '../common/payment';
import type { ApprovalRequestInput, ApprovalResult } from '../common/approval';
import { paymentAgent, type PaymentAgentInput } from '../workflows/payment-agent';
import { isPending, jwtPayload, waitForApprovalState } from './support/approvals';
import { openProxiedProvider } from './support/proxied-provider';
import {
  Device,
  providerLog,
  sharedStack,
  sleep,
  stackEnv,
  uniqueBindingMessage,
  uniqueTaskQueue,
  agentQueues,
  WITH_SAMPLE_AGENT,
} from './support/stack';
import { HANG_DETECTOR_MS, waitUntil } from './support/wait';
import { startWorkerWithClients, stopWorkerWithClients, useWorkerFixture } from './support/worker-fixture';

// Above the hang detectors of the waits a test makes in a row.
jest.setTimeout(3 * HANG_DETECTOR_MS);

const stack = sharedStack();
const device = new Device(stack.issuer);
const fixture = useWorkerFixture('approval', WITH_SAMPLE_AGENT);

const payment: Payment = { amount: '50.00', currency: 'USD', creditorName: 'ExampleCorp' };

async function startPaymentAgent(name: string, extra: Partial<PaymentAgentInput> = {}) {
  const workflowId = `${name}-${Date.now()}`;
  const { taskQueue, approvalTaskQueue } = agentQueues(fixture.env);
  const handle = await fixture.temporal.workflow.start(paymentAgent, {
    workflowId,
    taskQueue,
    args: [{ approvalTaskQueue, loginHint: 'alice@example.com', payment, seal: newStartSeal(workflowId), ...extra }],
  });
  return { handle, approvalId: `${workflowId}/approval/payment` };
}

/** The ApplicationFailure a parent sees as the cause of its failed child approval. */
async function approvalFailureOf(result: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await result.then(
    () => {
      throw new Error('expected the agent workflow to fail');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WorkflowFailedError);
  const child = (error as WorkflowFailedError).cause;
  expect(child).toBeInstanceOf(ChildWorkflowFailure);
  expect(child!.cause).toBeInstanceOf(ApplicationFailure);
  return child!.cause as ApplicationFailure;
}

describe('the sample payment agent', () => {
  it('gets tokens once the user approves, and pays with an access token that carries exactly the requested authorization_details', async () => {
    const { handle, approvalId } = await startPaymentAgent('approve');
    const state = await waitForApprovalState(fixture.temporal, approvalId, isPending);
    expect(state.bindingMessage).toBe(paymentBindingMessage(payment));

    const onDevice = (await device.pending()).find((r) => r.auth_req_id === state.authReqId);
    expect(onDevice?.authorization_details).toEqual(paymentAuthorizationDetails(payment));

    // The Temporal UI's story (decoded here as the UI decodes it through the codec server): the summary in the list,
    // the details table, and the current details while it waits.
    const approvalHandle = fixture.temporal.workflow.getHandle(approvalId);
    const description = await approvalHandle.describe();
    expect(await description.staticSummary()).toBe('Pay 50.00 USD to ExampleCorp · alice@…');
    expect(await description.staticDetails()).toContain('| instructedAmount.currency | USD |');
    const metadata = await approvalHandle.query<{ currentDetails: string }>('__temporal_workflow_metadata');
    expect(metadata.currentDetails).toMatch(/^\*\*pending\*\*/);
    expect(metadata.currentDetails).toContain('ask 1 of at most 3 (the first ask)');
    expect(metadata.currentDetails).toMatch(/next poll \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(every 1 s\)/);
    await device.decide(state.authReqId!, 'approve');

    const receipt = await handle.result();
    expect(receipt).toMatchObject({ status: 'executed', paymentId: expect.any(String) });

    const tokens: ApprovalResult = await fixture.temporal.workflow.getHandle(approvalId).result();
    expect(tokens.tokenType).toBe('bearer');
    expect(tokens.idToken).toEqual(expect.any(String));
    expect(jwtPayload(tokens.accessToken).authorization_details).toEqual(paymentAuthorizationDetails(payment));
    expect(tokens.authorizationDetails).toEqual(paymentAuthorizationDetails(payment));
    expect(Date.parse(tokens.approvedAt)).not.toBeNaN();

    // Nothing readable reaches Temporal: not the tokens, the payment, the user or the client secret.
    for (const id of [approvalId, handle.workflowId]) {
      const history = Buffer.from(
        temporalProto.api.history.v1.History.encode(
          await fixture.temporal.workflow.getHandle(id).fetchHistory(),
        ).finish(),
      );
      for (const secret of [
        tokens.accessToken,
        tokens.idToken!,
        'ExampleCorp',
        'alice@example.com',
        fixture.env.CIBA_CLIENT_SECRET!,
      ]) {
        expect(history.includes(secret)).toBe(false);
      }
      expect(history.includes('eyJ')).toBe(false);
    }
    // The search attributes the approval sets hold nothing secret or personal: the status word, the provider's issuer,
    // the ask's expiry.
    const { searchAttributes } = await fixture.temporal.workflow.getHandle(approvalId).describe();
    // Temporal's own: BuildIds, and TemporalChangeVersion (the patches the run took, e.g. "polling-modes").
    const { BuildIds: _buildIds, TemporalChangeVersion: _patches, ...custom } = searchAttributes;
    expect(custom).toEqual({
      CibaApprovalStatus: ['approved'],
      CibaProvider: [new URL(fixture.env.CIBA_ISSUER!).href],
      CibaRequestExpiresAt: [expect.any(Date)],
    });
  });

  it('fails with ApprovalDenied as the cause when the user denies', async () => {
    const { handle, approvalId } = await startPaymentAgent('deny');
    const state = await waitForApprovalState(fixture.temporal, approvalId, isPending);
    await device.decide(state.authReqId!, 'deny');

    const failure = await approvalFailureOf(handle.result());
    expect(failure.type).toBe('ApprovalDenied');
    expect(failure.nonRetryable).toBe(true);
  });

  it('fails with ApprovalExpired as the cause when nobody decides in time', async () => {
    const { handle, approvalId } = await startPaymentAgent('expire', {
      approval: { requestedExpiry: 10, askAgain: { maxAsks: 1 } },
    });
    // Asked (pending, or already expired: the 10 s may be over before a slow test looks).
    await waitForApprovalState(fixture.temporal, approvalId, (s) => s.asks.length === 1);

    const failure = await approvalFailureOf(handle.result());
    expect(failure.type).toBe('ApprovalExpired');
  });

  it('continues as new several times while it waits, and the result still reaches the waiting agent', async () => {
    const { handle, approvalId } = await startPaymentAgent('continue-as-new', {
      approval: { continueAsNewAfterEvents: 30 },
    });
    const state = await waitForApprovalState(
      fixture.temporal,
      approvalId,
      (s) => isPending(s) && s.continuedAsNew >= 3,
    );
    expect(state.asks).toHaveLength(1); // the same ask, carried across runs
    await device.decide(state.authReqId!, 'approve');
    expect(await handle.result()).toMatchObject({ status: 'executed' });

    // Visibility is eventually consistent: wait until it has every run closed.
    const runs = await waitUntil(async () => {
      const statuses: string[] = [];
      for await (const execution of fixture.temporal.workflow.list({ query: `WorkflowId = '${approvalId}'` }))
        statuses.push(execution.status.name);
      return statuses.includes('COMPLETED') && !statuses.includes('RUNNING') && statuses;
    }, `visibility: every run of ${approvalId} closed`);
    expect(runs.filter((s) => s === 'CONTINUED_AS_NEW').length).toBeGreaterThanOrEqual(3);
    expect(runs.filter((s) => s === 'COMPLETED')).toHaveLength(1);
  });

  it('asks again when a request expires before the approval deadline, and the second request can be approved', async () => {
    // The first request expires when the test says, not on the provider's clock (a request short enough to expire
    // during the test could as well expire before a slow test approves the next one): a proxy turns the provider's
    // answer to a poll of it into expired_token. The second request lives its whole lifetime.
    const { proxied, proxy, device: proxiedDevice } = await openProxiedProvider();
    const env = stackEnv(uniqueTaskQueue('ask-again'), { CIBA_ISSUER: proxied.issuer, ...WITH_SAMPLE_AGENT });
    const running = await startWorkerWithClients(env, 'worker-ask-again').catch(async (error: unknown) => {
      await proxied.close();
      throw error;
    });
    try {
      const workflowId = `ask-again-${Date.now()}`;
      const handle = await running.temporal.workflow.start(paymentAgent, {
        workflowId,
        taskQueue: agentQueues(env).taskQueue,
        args: [
          {
            approvalTaskQueue: agentQueues(env).approvalTaskQueue,
            loginHint: 'alice@example.com',
            payment,
            seal: newStartSeal(workflowId),
            approval: { askAgain: { maxAsks: 3, delayBetweenAsks: 5 } },
          },
        ],
      });
      const approvalId = `${workflowId}/approval/payment`;
      const first = await waitForApprovalState(running.temporal, approvalId, isPending);
      proxy.failNext({
        endpoint: 'token',
        fault: { kind: 'edit-json', set: { error: 'expired_token', error_description: 'the request has expired' } },
        onlyIfError: 'authorization_pending',
        match: (request) => request.form.get('auth_req_id') === first.authReqId,
      });
      const second = await waitForApprovalState(
        running.temporal,
        approvalId,
        (s) => s.asks.length === 2 && isPending(s),
      );
      expect(second.authReqId).not.toBe(first.authReqId);
      await proxiedDevice.decide(second.authReqId!, 'approve');
      expect(await handle.result()).toMatchObject({ status: 'executed' });

      const { asks } = await waitForApprovalState(running.temporal, approvalId, (s) => s.status === 'approved');
      expect(asks.map((ask) => [ask.reason, ask.outcome])).toEqual([
        ['first', 'expired'],
        ['expired', 'approved'],
      ]);
      const initiations = (
        await providerLog(proxied.providerUrl, { bindingMessage: paymentBindingMessage(payment) })
      ).filter((e) => e.endpoint === 'bc-authorize');
      expect(initiations.map((e) => [e.status, e.authReqId])).toEqual([
        [200, first.authReqId],
        [200, second.authReqId],
      ]);
    } finally {
      await stopWorkerWithClients(running);
      await proxied.close();
    }
  });

  it('gives up with ApprovalExpired after asking the configured number of times', async () => {
    const { handle, approvalId } = await startPaymentAgent('ask-exhausted', {
      approval: { requestedExpiry: 10, askAgain: { maxAsks: 2, delayBetweenAsks: 5 } },
    });
    const failure = await approvalFailureOf(handle.result());
    expect(failure.type).toBe('ApprovalExpired');
    expect(failure.message).toContain('asked 2 of 2 times');
    const { asks, status } = await waitForApprovalState(fixture.temporal, approvalId, (s) => s.status === 'expired');
    expect(status).toBe('expired');
    expect(asks.map((ask) => ask.reason)).toEqual(['first', 'expired']);
  });
});

describe('polling', () => {
  it('on slow_down, spaces later polls at least 5 s further apart, as the provider saw them', async () => {
    const bindingMessage = uniqueBindingMessage('Slow down');
    const { workflowId } = await fixture.approvals.start({ loginHint: 'bob@example.com', bindingMessage });
    const { authReqId } = await waitForApprovalState(fixture.temporal, workflowId, isPending);

    // Two polls at the provider's 1 s interval, then one slow_down, then two more polls.
    const polls = async () => (await providerLog(stack.issuer, { authReqId })).filter((e) => e.endpoint === 'token');
    while ((await polls()).length < 2) await sleep(200);
    const response = await fetch(`${stack.issuer}/dev/requests/${authReqId}/slow-down`, { method: 'POST' });
    expect(response.ok).toBe(true);
    while ((await polls()).length < 5) await sleep(500);
    await device.decide(authReqId!, 'approve');
    await fixture.approvals.result(workflowId);

    const log = await polls();
    const slowDownAt = log.findIndex((e) => e.error === 'slow_down');
    expect(slowDownAt).toBeGreaterThanOrEqual(2);
    // The provider answers slow_down to any poll that comes too soon: exactly one means none came too soon.
    expect(log.filter((e) => e.error === 'slow_down')).toHaveLength(1);
    const gaps = log.slice(1).map((e, i) => e.atMs - log[i]!.atMs);
    const before = gaps.slice(0, slowDownAt - 1);
    const after = gaps.slice(slowDownAt);
    expect(after.length).toBeGreaterThanOrEqual(2);
    for (const gap of before) expect(gap).toBeGreaterThanOrEqual(1_000);
    for (const gap of after) expect(gap).toBeGreaterThanOrEqual(6_000); // 1 s + 5 s, for every later poll
    expect((await fixture.approvals.status(workflowId)).approval).toMatchObject({
      status: 'approved',
      slowDowns: 1,
      intervalSeconds: 6,
    });
  });
});

describe('the client library', () => {
  it('starts once per key, even when two starts race, and the provider sees one request', async () => {
    const bindingMessage = uniqueBindingMessage('Idempotent');
    const key = `order-${Date.now()}`;
    const request = { loginHint: 'alice@example.com', bindingMessage };
    const [a, b] = await Promise.all([
      fixture.approvals.start(request, { key }),
      fixture.approvals.start(request, { key }),
    ]);
    expect(a.workflowId).toBe(b.workflowId);
    const { authReqId } = await waitForApprovalState(fixture.temporal, a.workflowId, isPending);

    await fixture.approvals.cancel(a.workflowId);
    await expect(fixture.approvals.result(a.workflowId)).rejects.toMatchObject({ type: 'ApprovalCancelled' });
    // Finished: the same key still names the same approval, and nothing new is sent.
    expect(await fixture.approvals.start(request, { key })).toEqual({ workflowId: a.workflowId, started: false });
    const initiations = (await providerLog(stack.issuer, { bindingMessage })).filter(
      (e) => e.endpoint === 'bc-authorize',
    );
    expect(initiations).toHaveLength(1);
    expect(initiations[0]!.authReqId).toBe(authReqId);
    expect((await fixture.approvals.status(a.workflowId)).approval?.status).toBe('cancelled');
  });

  it('of starts that race with one key, exactly one says it started the approval', async () => {
    const bindingMessage = uniqueBindingMessage('Racing starts');
    const key = `race-${Date.now()}`;
    const request = { loginHint: 'alice@example.com', bindingMessage };
    const starts = await Promise.all(Array.from({ length: 4 }, () => fixture.approvals.start(request, { key })));
    expect(new Set(starts.map((start) => start.workflowId)).size).toBe(1);
    expect(starts.filter((start) => start.started)).toHaveLength(1);
    await fixture.approvals.cancel(starts[0]!.workflowId);
  });

  it('adds openid to a scope without it', async () => {
    const bindingMessage = uniqueBindingMessage('Scope');
    const { workflowId } = await fixture.approvals.start({
      loginHint: 'alice@example.com',
      bindingMessage,
      scope: 'email',
    });
    const { authReqId } = await waitForApprovalState(fixture.temporal, workflowId, isPending);
    const onDevice = (await device.pending()).find((r) => r.auth_req_id === authReqId);
    expect(onDevice?.scope.split(' ').sort()).toEqual(['email', 'openid']);
    await fixture.approvals.cancel(workflowId);
  });

  const badRequests: Array<[string, unknown, RegExp]> = [
    ['no user hint', { bindingMessage: 'Pay 1.00 USD' }, /one of loginHint, loginHintToken or idTokenHint is required/],
    [
      'two user hints',
      { loginHint: 'alice', idTokenHint: 'eyJ.x.y', bindingMessage: 'Pay 1.00 USD' },
      /exactly one of/,
    ],
    [
      'authorization_details not an array',
      { loginHint: 'alice', bindingMessage: 'Pay', authorizationDetails: { type: 'x' } },
      /authorizationDetails/,
    ],
    [
      'an authorization_details entry without type',
      { loginHint: 'alice', bindingMessage: 'Pay', authorizationDetails: [{ amount: '1' }] },
      /authorizationDetails\.0\.type/,
    ],
    [
      'a binding message that breaks the rule',
      { loginHint: 'alice', bindingMessage: 'Pay $50.00!' },
      /bindingMessage must be 1 to 64 characters/,
    ],
    ['a binding message over 64 characters', { loginHint: 'alice', bindingMessage: 'x'.repeat(65) }, /bindingMessage/],
    // As the HTTP API and ciba (the same schema): a blank message would only fail in the worker.
    ['a blank binding message', { loginHint: 'alice', bindingMessage: '   ' }, /bindingMessage.*not only spaces/],
  ];
  it.each(badRequests)('rejects %s with a clear error and starts no workflow', async (_name, request, message) => {
    const key = `bad-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const error = await fixture.approvals.start(request as ApprovalRequestInput, { key }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidApprovalRequestError);
    expect((error as Error).message).toMatch(message);
    await expect(fixture.temporal.workflow.getHandle(`ciba-approval-${key}`).describe()).rejects.toBeInstanceOf(
      WorkflowNotFoundError,
    );
  });
});

describe('provider errors at initiation', () => {
  async function providerError(request: ApprovalRequestInput, client?: ApprovalClient): Promise<ApprovalFailedError> {
    client ??= fixture.approvals;
    const { workflowId } = await client.start(request);
    const error = await client.result(workflowId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApprovalFailedError);
    expect((error as ApprovalFailedError).type).toBe('CibaProviderError');
    return error as ApprovalFailedError;
  }

  it('an unknown user ends in CibaProviderError carrying unknown_user_id', async () => {
    const error = await providerError({ loginHint: 'mallory@example.com', bindingMessage: 'Pay 1.00 USD' });
    expect(error.details[0]).toMatchObject({ error: 'unknown_user_id', errorDescription: expect.any(String) });
  });

  it('unsupported authorization_details end in CibaProviderError carrying invalid_authorization_details', async () => {
    const error = await providerError({
      loginHint: 'alice@example.com',
      bindingMessage: 'Pay 1.00 USD',
      authorizationDetails: [{ type: 'urn:example:unsupported' }],
    });
    expect(error.details[0]).toMatchObject({ error: 'invalid_authorization_details' });
  });

  it('a wrong client secret ends in CibaProviderError carrying invalid_client', async () => {
    const badEnv = stackEnv(uniqueTaskQueue('bad-secret'), { CIBA_CLIENT_SECRET: 'not-the-secret' });
    const badWorker = await startWorkerWithClients(badEnv, 'worker-bad-secret');
    try {
      const error = await providerError(
        { loginHint: 'alice@example.com', bindingMessage: 'Pay 1.00 USD' },
        badWorker.approvals,
      );
      expect(error.details[0]).toMatchObject({ error: 'invalid_client' });
    } finally {
      await stopWorkerWithClients(badWorker);
    }
  });
});

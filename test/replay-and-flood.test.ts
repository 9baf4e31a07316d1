/**
 * Replays and floods, tried as an attacker would on the real stack (Temporal dev server, local provider, worker
 * processes): an encrypted input copied out of a finished approval's history and started again asks nobody; a copied
 * payment agent pays nothing twice; a flooding request is refused before it starts; the per-user ask gate holds across
 * approvals while other users are unaffected. The provider's request log and the demo payments API's ledger are the
 * proof, not what the client believes.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure, ChildWorkflowFailure } from '@temporalio/common';
import { ApprovalFailedError, InvalidApprovalRequestError, newStartSeal } from '../client/approvals';
import { paymentBindingMessage, type Payment } from '../common/payment';
import { paymentAgent } from '../workflows/payment-agent';
import { isPending, waitForApprovalState } from './support/approvals';
import {
  agentQueues,
  Device,
  providerLog,
  sharedStack,
  uniqueBindingMessage,
  WITH_SAMPLE_AGENT,
} from './support/stack';
import { HANG_DETECTOR_MS } from './support/wait';
import { useWorkerFixture } from './support/worker-fixture';

jest.setTimeout(3 * HANG_DETECTOR_MS);

const stack = sharedStack();
const device = new Device(stack.issuer);
const fixture = useWorkerFixture('replay', WITH_SAMPLE_AGENT);

/** Starts a workflow with another workflow's encrypted input, byte for byte, as `temporal workflow start` could. */
async function startCopy(client: Client, fromWorkflowId: string, workflowId: string, taskQueue: string) {
  const history = await client.workflow.getHandle(fromWorkflowId).fetchHistory();
  const started = history.events![0]!.workflowExecutionStartedEventAttributes!;
  await client.workflowService.startWorkflowExecution({
    namespace: client.options.namespace,
    workflowId,
    workflowType: started.workflowType,
    taskQueue: { name: taskQueue },
    input: started.input,
    identity: 'attacker',
    requestId: randomUUID(),
  });
}

/** The failure a workflow ended with (its cause, for a parent whose child failed: the child's). */
async function failureOf(client: Client, workflowId: string): Promise<ApplicationFailure> {
  const error = await client.workflow
    .getHandle(workflowId)
    .result()
    .then(
      () => new Error(`${workflowId} was expected to fail`),
      (e: unknown) => e,
    );
  expect(error).toBeInstanceOf(WorkflowFailedError);
  let cause = (error as WorkflowFailedError).cause;
  if (cause instanceof ChildWorkflowFailure) cause = cause.cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return cause as ApplicationFailure;
}

const backchannelRequests = async (bindingMessage: string) =>
  (await providerLog(stack.issuer, { bindingMessage })).filter((entry) => entry.endpoint === 'bc-authorize');

async function payments(creditorName: string): Promise<unknown[]> {
  const response = await fetch(`${stack.issuer}/dev/payments`);
  const all = (await response.json()) as Array<{ creditorName: string }>;
  return all.filter((payment) => payment.creditorName === creditorName);
}

describe('a copy of an encrypted input', () => {
  let original: string;
  let bindingMessage: string;

  beforeAll(async () => {
    bindingMessage = uniqueBindingMessage('Replay me');
    ({ workflowId: original } = await fixture.approvals.start({ loginHint: 'bob@example.com', bindingMessage }));
    const { authReqId } = await waitForApprovalState(fixture.temporal, original, isPending);
    await device.decide(authReqId!, 'deny');
    await expect(fixture.approvals.result(original)).rejects.toMatchObject({ type: 'ApprovalDenied' });
  });

  it('started under a new workflow ID ends InputReplayed, and the provider gets no second request', async () => {
    const copy = `replayed-${randomUUID()}`;
    await startCopy(fixture.temporal, original, copy, fixture.env.CIBA_TASK_QUEUE!);
    const failure = await failureOf(fixture.temporal, copy);
    expect(failure.type).toBe('InputReplayed');
    expect(failure.message).toContain(`made for workflow "${original}"`);
    expect(await backchannelRequests(bindingMessage)).toHaveLength(1);
  });

  it('started again under its own workflow ID, after the user said no, asks nobody: InputReplayed', async () => {
    await startCopy(fixture.temporal, original, original, fixture.env.CIBA_TASK_QUEUE!);
    const failure = await failureOf(fixture.temporal, original);
    expect(failure.type).toBe('InputReplayed');
    expect(await backchannelRequests(bindingMessage)).toHaveLength(1);
  });

  it('without a seal, ends InputNotSealed before asking', async () => {
    const workflowId = `unsealed-${randomUUID()}`;
    const unsealed = uniqueBindingMessage('Unsealed');
    await fixture.temporal.workflow.start('cibaApproval', {
      workflowId,
      taskQueue: fixture.env.CIBA_TASK_QUEUE!,
      args: [{ loginHint: 'bob@example.com', bindingMessage: unsealed }],
    });
    expect((await failureOf(fixture.temporal, workflowId)).type).toBe('InputNotSealed');
    expect(await backchannelRequests(unsealed)).toHaveLength(0);
  });
});

describe('a copy of a payment agent’s input', () => {
  it('pays nothing twice, under a new workflow ID or its own', async () => {
    const payment: Payment = { amount: '9.99', currency: 'EUR', creditorName: `Replay${randomUUID().slice(0, 8)}` };
    const workflowId = `replay-agent-${randomUUID()}`;
    const { taskQueue, approvalTaskQueue } = agentQueues(fixture.env);
    const agent = await fixture.temporal.workflow.start(paymentAgent, {
      workflowId,
      taskQueue,
      args: [{ approvalTaskQueue, loginHint: 'alice@example.com', payment, seal: newStartSeal(workflowId) }],
    });
    const { authReqId } = await waitForApprovalState(fixture.temporal, `${workflowId}/approval/payment`, isPending);
    await device.decide(authReqId!, 'approve');
    await agent.result();
    expect(await payments(payment.creditorName)).toHaveLength(1);

    const elsewhere = `replay-agent-copy-${randomUUID()}`;
    await startCopy(fixture.temporal, workflowId, elsewhere, taskQueue);
    expect((await failureOf(fixture.temporal, elsewhere)).type).toBe('InputReplayed');

    await startCopy(fixture.temporal, workflowId, workflowId, taskQueue);
    expect((await failureOf(fixture.temporal, workflowId)).type).toBe('InputReplayed');

    expect(await payments(payment.creditorName)).toHaveLength(1);
    expect(await backchannelRequests(paymentBindingMessage(payment))).toHaveLength(1);
  });
});

describe('a flooding request', () => {
  it('is refused before anything starts, naming each bound it breaks', async () => {
    const bindingMessage = uniqueBindingMessage('Flood');
    const error = await fixture.approvals
      .start({
        loginHint: 'bob@example.com',
        bindingMessage,
        requestedExpiry: 1,
        askAgain: { delayBetweenAsks: 0, maxAsks: 10_000 },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidApprovalRequestError);
    const message = (error as Error).message;
    expect(message).toContain('requestedExpiry');
    expect(message).toContain('askAgain.delayBetweenAsks');
    expect(message).toContain('askAgain.maxAsks');
    expect(await backchannelRequests(bindingMessage)).toHaveLength(0);
  });
});

describe('the per-user ask gate, one pending ask per user', () => {
  const limited = useWorkerFixture('ask-gate', { CIBA_USER_MAX_PENDING_ASKS: '1', CIBA_USER_MAX_ASKS_PER_HOUR: '3' });

  it('refuses a second concurrent ask for one user with AskRateLimited and a retry time; other users are unaffected', async () => {
    const first = await limited.approvals.start({ loginHint: 'alice@example.com', bindingMessage: 'Gate first' });
    const { authReqId } = await waitForApprovalState(limited.temporal, first.workflowId, isPending);

    const secondMessage = uniqueBindingMessage('Gate second');
    const second = await limited.approvals.start({ loginHint: 'alice@example.com', bindingMessage: secondMessage });
    const refused = await limited.approvals.result(second.workflowId).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApprovalFailedError);
    expect((refused as ApprovalFailedError).type).toBe('AskRateLimited');
    const details = (refused as ApprovalFailedError).details[0] as { limit: string; max: number; retryAt: string };
    expect(details).toMatchObject({ limit: 'pending', max: 1 });
    expect(Date.parse(details.retryAt)).toBeGreaterThan(Date.now());
    expect(await backchannelRequests(secondMessage)).toHaveLength(0);

    const bob = await limited.approvals.start({ loginHint: 'bob@example.com', bindingMessage: 'Gate bob' });
    const bobAsk = await waitForApprovalState(limited.temporal, bob.workflowId, isPending);
    await device.decide(bobAsk.authReqId!, 'deny');

    // Alice decides: her lease is released, and the next approval for her is asked.
    await device.decide(authReqId!, 'deny');
    await expect(limited.approvals.result(first.workflowId)).rejects.toMatchObject({ type: 'ApprovalDenied' });
    const third = await limited.approvals.start({ loginHint: 'alice@example.com', bindingMessage: 'Gate third' });
    const thirdAsk = await waitForApprovalState(limited.temporal, third.workflowId, isPending);
    await device.decide(thirdAsk.authReqId!, 'deny');
  });
});

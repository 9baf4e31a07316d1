/**
 * The worker killed with SIGKILL at each phase of an approval where a request to the provider is in flight, then a
 * new worker: each approval still ends in exactly one outcome, never hangs, and the provider saw exactly the
 * backchannel requests the rules in ARCHITECTURE.md allow. (Killed while it merely waits: test/durability.test.ts.)
 *
 * A fault proxy (test/support/fault-proxy.ts) holds the in-flight request or answer, so the kill lands exactly in the
 * phase under test. The worker's HTTP timeout is 20 s, below the activities' 30 s startToCloseTimeout, so the held
 * request is still outstanding when the worker dies; Temporal notices the dead activity at that 30 s timeout.
 */
import type { Client } from '@temporalio/client';
import type { ApprovalClient } from '../client/approvals';
import type { ApprovalRequestInput } from '../common/approval';
import type { ManagedProcess } from '../devstack/ts-process';
import { isPending, jwtPayload, waitForApprovalState } from './support/approvals';
import type { FaultProxy } from './support/fault-proxy';
import { outcomeWithin, type ApprovalOutcome } from './support/approval-outcome';
import { openProxiedProvider, type ProxiedProvider } from './support/proxied-provider';
import {
  Device,
  providerLog,
  sharedStack,
  stackEnv,
  startWorker,
  uniqueBindingMessage,
  uniqueTaskQueue,
} from './support/stack';
import { HANG_DETECTOR_MS } from './support/wait';
import { startWorkerWithClients, stopWorkerWithClients } from './support/worker-fixture';

// Above the hang detectors of the waits a test makes in a row (and two worker starts).
jest.setTimeout(5 * HANG_DETECTOR_MS);

/**
 * An approval that has not ended after this long hangs. It needs the killed activity's 30 s startToCloseTimeout, the
 * new worker's start and the rest of the approval: generous above that, so that only a hang fails it.
 */
const OUTCOME_WITHIN_MS = 30_000 + HANG_DETECTOR_MS;

const shared = sharedStack();
let proxied: ProxiedProvider;
let proxy: FaultProxy;
let device: Device;

beforeAll(async () => ({ proxied, proxy, device } = await openProxiedProvider()));
afterAll(async () => proxied?.close());

interface Phase {
  approvals: ApprovalClient;
  temporal: Client;
  /** The worker now running (after kill(): the new one). */
  worker(): ManagedProcess;
  /** SIGKILLs the worker (asserting it died of it) and starts a new one on the same task queue. */
  killAndReplaceWorker(before?: () => Promise<void>): Promise<void>;
  start(bindingMessage: string, extra?: Partial<ApprovalRequestInput>): Promise<string>;
}

async function runPhase(name: string, body: (phase: Phase) => Promise<void>): Promise<void> {
  const env = stackEnv(uniqueTaskQueue(name), { CIBA_ISSUER: proxied.issuer, CIBA_HTTP_TIMEOUT_MS: '20000' }, shared);
  const workerAndClients = await startWorkerWithClients(env, `worker-${name}-before-kill`);
  const { approvals, temporal } = workerAndClients;
  const started: string[] = [];
  const phase: Phase = {
    approvals,
    temporal,
    worker: () => workerAndClients.worker,
    async killAndReplaceWorker(before) {
      await workerAndClients.worker.kill('SIGKILL');
      expect(workerAndClients.worker.child.signalCode).toBe('SIGKILL');
      await before?.();
      workerAndClients.worker = await startWorker(env, `worker-${name}-after-kill`);
    },
    async start(bindingMessage, extra = {}) {
      const { workflowId } = await approvals.start({ loginHint: 'alice@example.com', bindingMessage, ...extra });
      started.push(workflowId);
      return workflowId;
    },
  };
  try {
    await body(phase);
  } finally {
    proxy.reset();
    for (const id of started)
      await temporal.workflow
        .getHandle(id)
        .terminate('test over')
        .catch(() => undefined);
    await stopWorkerWithClients(workerAndClients, 'SIGKILL');
  }
}

async function atProvider(bindingMessage: string, endpoint: 'bc-authorize' | 'token') {
  return (await providerLog(proxied.providerUrl, { bindingMessage })).filter((e) => e.endpoint === endpoint);
}

function failureType(outcome: ApprovalOutcome): string {
  return outcome.kind === 'failed' ? outcome.type : 'tokens';
}

it('(a) killed during the backchannel request: ApprovalInitiationUncertain after the 30 s activity timeout, never re-sent', async () => {
  await runPhase('kill-initiation', async (phase) => {
    // Two approvals on the killed worker: the proxy forwards A's held request after the kill (the provider then
    // notifies the user), and drops B's (the provider never sees it). Neither worker can know which happened.
    const forwarded = uniqueBindingMessage('Kill init forwarded');
    const dropped = uniqueBindingMessage('Kill init dropped');
    for (const message of [forwarded, dropped]) {
      proxy.failNext({
        endpoint: 'bc-authorize',
        fault: { kind: 'hold' },
        match: (r) => r.form.get('binding_message') === message,
      });
    }
    const idA = await phase.start(forwarded);
    const idB = await phase.start(dropped);
    const heldA = await proxy.waitForHeld(undefined, (h) => h.entry.bindingMessage === forwarded);
    const heldB = await proxy.waitForHeld(undefined, (h) => h.entry.bindingMessage === dropped);

    await phase.killAndReplaceWorker(async () => {
      // Forward A only once the proxy has seen the killed worker's connections close (the kernel closes them at the
      // kill; the proxy learns it when it handles the close): then nobody is there to get the answer.
      const gone = () => heldA.entry.clientGone === true && heldB.entry.clientGone === true;
      await proxy.waitForLog(gone, undefined, "the killed worker's held requests, seen gone");
      await heldA.forward();
      heldB.drop();
    });
    // The provider accepted A; its answer went nowhere: the killed worker never saw it.
    expect(heldA.entry).toMatchObject({ forwarded: true, providerStatus: 200, clientGone: true, outcome: 'no-answer' });

    const [a, b] = await Promise.all([
      outcomeWithin(phase.approvals, idA, OUTCOME_WITHIN_MS),
      outcomeWithin(phase.approvals, idB, OUTCOME_WITHIN_MS),
    ]);
    expect([failureType(a), failureType(b)]).toEqual(['ApprovalInitiationUncertain', 'ApprovalInitiationUncertain']);

    // Rule: an initiation that may have reached the provider is never sent again. Counts at the provider as set up:
    // A forwarded once (1, accepted: the user's device shows it), B never (0).
    const atA = await atProvider(forwarded, 'bc-authorize');
    expect(atA.map((e) => e.status)).toEqual([200]);
    expect((await device.pending()).some((r) => r.binding_message === forwarded)).toBe(true);
    expect(await atProvider(dropped, 'bc-authorize')).toHaveLength(0);
    for (const message of [forwarded, dropped]) {
      expect(proxy.entries('bc-authorize').filter((e) => e.bindingMessage === message)).toHaveLength(1);
    }
  });
});

it('(b) killed during a poll: the poll is retried by the new worker, and the approval ends approved', async () => {
  await runPhase('kill-poll', async (phase) => {
    const bindingMessage = uniqueBindingMessage('Kill poll');
    const workflowId = await phase.start(bindingMessage);
    const { authReqId } = await waitForApprovalState(phase.temporal, workflowId, (s) => isPending(s) && s.polls >= 1);
    proxy.failNext({ endpoint: 'token', fault: { kind: 'hold' } });
    const held = await proxy.waitForHeld();

    // The held poll reaches the provider after the kill (still pending: nothing is lost), then the user approves.
    await phase.killAndReplaceWorker(() => held.forward());
    expect(held.entry.providerStatus).toBe(400);
    await device.decide(authReqId!, 'approve');

    const outcome = await outcomeWithin(phase.approvals, workflowId, OUTCOME_WITHIN_MS);
    expect(failureType(outcome)).toBe('tokens');
    expect(ok(await atProvider(bindingMessage, 'bc-authorize'))).toHaveLength(1);
    const polls = await atProvider(bindingMessage, 'token');
    expect(ok(polls)).toHaveLength(1);
    expect(polls.filter((e) => e.error === 'invalid_grant')).toHaveLength(0);
  });
});

it('(c) killed in the lost-response window: the provider issued tokens the worker never got; with afterLostAnswer, asked again (marked), approved, tokens', async () => {
  await runPhase('kill-lost-response', async (phase) => {
    const bindingMessage = uniqueBindingMessage('Kill lost response');
    const workflowId = await phase.start(bindingMessage, { askAgain: { delayBetweenAsks: 5, afterLostAnswer: true } });
    const first = await waitForApprovalState(phase.temporal, workflowId, isPending);

    // The user approves; the next poll reaches the provider, which issues tokens; the proxy holds that answer and
    // the worker is killed before it arrives. The answer is then thrown away.
    proxy.failNext({ endpoint: 'token', fault: { kind: 'hold-response' }, onlyIfStatus: 200 });
    await device.decide(first.authReqId!, 'approve');
    const held = await proxy.waitForHeld();
    expect(held.answer?.status).toBe(200);
    const lostAccessToken = (JSON.parse(held.answer!.body.toString()) as { access_token: string }).access_token;
    await phase.killAndReplaceWorker(async () => held.drop());

    // The new worker's poll gets invalid_grant (the provider revokes the lost tokens): the approval asks again.
    const second = await device.waitFor(`Again: ${bindingMessage}`, OUTCOME_WITHIN_MS);
    expect(second.auth_req_id).not.toBe(first.authReqId);
    await device.decide(second.auth_req_id, 'approve');

    const outcome = await outcomeWithin(phase.approvals, workflowId, OUTCOME_WITHIN_MS);
    if (outcome.kind !== 'approved') throw new Error(`expected tokens, got ${outcome.type}: ${outcome.message}`);
    expect(outcome.result.accessToken).not.toBe(lostAccessToken); // never the revoked tokens
    expect(outcome.result.idToken).toEqual(expect.any(String));
    expect(jwtPayload(outcome.result.accessToken).iss).toBe(proxied.issuer);

    // At the provider: two backchannel requests (the rule: one per ask), tokens issued once per request, and the
    // first request's last poll answered invalid_grant.
    const initiations = [
      ...(await atProvider(bindingMessage, 'bc-authorize')),
      ...(await atProvider(`Again: ${bindingMessage}`, 'bc-authorize')),
    ];
    expect(ok(initiations).map((e) => e.authReqId)).toEqual([first.authReqId, second.auth_req_id]);
    const firstPolls = (await providerLog(proxied.providerUrl, { authReqId: first.authReqId })).filter(
      (e) => e.endpoint === 'token',
    );
    expect(ok(firstPolls)).toHaveLength(1);
    expect(firstPolls.at(-1)!.error).toBe('invalid_grant');
    const secondPolls = (await providerLog(proxied.providerUrl, { authReqId: second.auth_req_id })).filter(
      (e) => e.endpoint === 'token',
    );
    expect(ok(secondPolls)).toHaveLength(1);

    const { approval } = await phase.approvals.status(workflowId);
    expect(approval?.status).toBe('approved');
    expect(approval?.asks.map((ask) => [ask.reason, ask.authReqId])).toEqual([
      ['first', first.authReqId],
      ['lost_token_response', second.auth_req_id],
    ]);
    expect(approval?.asks[0]?.outcome).toEqual(expect.any(String));
    expect(approval?.asks[0]?.outcome).not.toBe('approved');
    expect(approval?.asks[1]?.outcome).toBe('approved');
  });
});

function ok<T extends { status: number }>(entries: T[]): T[] {
  return entries.filter((e) => e.status === 200);
}

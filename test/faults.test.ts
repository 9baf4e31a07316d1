/**
 * The fault matrix: every fault between the worker and the provider that the retry rules (ARCHITECTURE.md) name,
 * injected by a proxy in front of a real local provider (test/support/fault-proxy.ts). Each case has its own worker
 * process on its own task queue (so each starts with no cached discovery and no open connection), a 2 s HTTP
 * timeout, and ends in exactly one outcome the agent sees, within a bound: tokens, or one typed failure.
 *
 * Counts are what REACHED THE PROVIDER (its own GET /dev/log), not what the worker believes: a fault injected before
 * forwarding never reaches it.
 */
import type { Client } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import type { ApprovalClient } from '../client/approvals';
import type { ApprovalRequestInput } from '../common/approval';
import type { RequestLogEntry } from '../provider/request-log';
import { isPending, jwtPayload, waitForApprovalState } from './support/approvals';
import type { FaultProxy } from './support/fault-proxy';
import type { Fault } from './support/fault-rules';
import { outcomeWithin, type ApprovalOutcome } from './support/approval-outcome';
import { openProxiedProvider, type ProxiedProvider } from './support/proxied-provider';
import type { ProxyLogEntry } from './support/proxy-log';
import { Device, providerLog, sharedStack, stackEnv, uniqueBindingMessage, uniqueTaskQueue } from './support/stack';
import { HANG_DETECTOR_MS, waitUntil } from './support/wait';
import { startWorkerWithClients, stopWorkerWithClients } from './support/worker-fixture';

// Above the hang detectors of the waits a case makes in a row (each case also starts its own worker).
jest.setTimeout(4 * HANG_DETECTOR_MS);

const shared = sharedStack();
let proxied: ProxiedProvider;
let proxy: FaultProxy;
let device: Device;

beforeAll(async () => ({ proxied, proxy, device } = await openProxiedProvider()));
afterAll(async () => proxied?.close());

/**
 * A case that has not reached its outcome after this long hangs (the longest planned one needs ~15 s; generous, so
 * that only a hang, never a slow machine, fails it).
 */
const OUTCOME_WITHIN_MS = HANG_DETECTOR_MS;

interface Case {
  approvals: ApprovalClient;
  temporal: Client;
  bindingMessage: string;
  /** When the case started (epoch ms): proxy log entries before it belong to other cases. */
  sinceMs: number;
  /** Starts the approval (alice, this case's binding message) and returns its workflow ID. */
  start(extra?: Partial<ApprovalRequestInput>): Promise<string>;
  /** Starts it and waits until it polls an auth_req_id. */
  startPending(extra?: Partial<ApprovalRequestInput>): Promise<{ workflowId: string; authReqId: string }>;
  outcome(): Promise<ApprovalOutcome>;
  /** What the provider saw of this approval (bc-authorize and the polls of its auth_req_ids). */
  atProvider(endpoint: 'bc-authorize' | 'token'): Promise<RequestLogEntry[]>;
  /** What reached the proxy for this approval. */
  atProxy(endpoint: 'bc-authorize' | 'token'): ProxyLogEntry[];
}

/** Runs `body` with its own worker (own task queue) against the proxied provider; cleans up whatever happens. */
async function runCase(name: string, body: (testCase: Case) => Promise<void>): Promise<void> {
  const env = stackEnv(uniqueTaskQueue(name), { CIBA_ISSUER: proxied.issuer, CIBA_HTTP_TIMEOUT_MS: '2000' }, shared);
  const workerAndClients = await startWorkerWithClients(env, `worker-faults-${name}`);
  const { approvals, temporal } = workerAndClients;
  const bindingMessage = uniqueBindingMessage(`Faults ${name}`);
  let workflowId: string | undefined;
  const testCase: Case = {
    approvals,
    temporal,
    bindingMessage,
    sinceMs: Date.now(),
    async start(extra = {}) {
      ({ workflowId } = await approvals.start({ loginHint: 'alice@example.com', bindingMessage, ...extra }));
      return workflowId;
    },
    async startPending(extra = {}) {
      const id = await testCase.start(extra);
      const state = await waitForApprovalState(temporal, id, isPending);
      return { workflowId: id, authReqId: state.authReqId! };
    },
    outcome: () => outcomeWithin(approvals, workflowId!, OUTCOME_WITHIN_MS),
    async atProvider(endpoint) {
      return (await providerLog(proxied.providerUrl, { bindingMessage })).filter((e) => e.endpoint === endpoint);
    },
    atProxy: (endpoint) => proxy.entries(endpoint, testCase.sinceMs).filter((e) => e.bindingMessage === bindingMessage),
  };
  try {
    await body(testCase);
  } finally {
    proxy.reset();
    if (workflowId)
      await temporal.workflow
        .getHandle(workflowId)
        .terminate('test case over')
        .catch(() => undefined);
    await stopWorkerWithClients(workerAndClients, 'SIGKILL');
  }
}

/** Every faulted request of the case is over: the client got its answer (or gave up), and a late forward is done. */
async function faultsSettled(testCase: Case, times: number): Promise<void> {
  await proxy.waitForLog(
    () => {
      const faulted = proxy.entries(undefined, testCase.sinceMs).filter((e) => e.fault !== undefined);
      return (
        faulted.length >= times &&
        faulted.every(
          (e) =>
            e.outcome !== undefined &&
            (e.fault !== 'forward-after-client-gone' || e.providerStatus !== undefined) &&
            (!e.forwarded || e.providerStatus !== undefined),
        )
      );
    },
    undefined,
    `${times} faulted request(s), settled`,
  );
}

function expectApproved(outcome: ApprovalOutcome) {
  if (outcome.kind !== 'approved') throw new Error(`expected tokens, got ${outcome.type}: ${outcome.message}`);
  expect(outcome.result.accessToken).toEqual(expect.any(String));
  expect(outcome.result.tokenType.toLowerCase()).toBe('bearer');
  expect(jwtPayload(outcome.result.accessToken).iss).toBe(proxied.issuer);
  return outcome.result;
}

function expectFailure(outcome: ApprovalOutcome, type: string) {
  if (outcome.kind !== 'failed') throw new Error(`expected ${type}, got tokens`);
  expect({ type: outcome.type, message: outcome.message }).toEqual({ type, message: expect.any(String) });
  return outcome;
}

const ok = (entries: RequestLogEntry[]) => entries.filter((e) => e.status === 200);

// ---------------------------------------------------------------------------------------------------------------
describe('initiation (POST /bc-authorize)', () => {
  it('HTTP 503 ("not processed") is sent again and approved; the provider saw exactly one request', async () => {
    await runCase('init-503', async (testCase) => {
      const rule = proxy.failNext({ endpoint: 'bc-authorize', fault: { kind: 'status', status: 503, body: 'json' } });
      const { authReqId } = await testCase.startPending();
      expect(rule.applied).toBe(1);
      await device.decide(authReqId, 'approve');
      expectApproved(await testCase.outcome());

      expect(testCase.atProxy('bc-authorize').map((e) => e.outcome)).toEqual([503, 200]);
      // Rule: 503 never reached the provider; the re-sent one did. One notification.
      expect(await testCase.atProvider('bc-authorize')).toHaveLength(1);
    });
  });

  it('HTTP 429 with Retry-After is sent again no sooner than Retry-After, and approved; one request at the provider', async () => {
    await runCase('init-429', async (testCase) => {
      // 4 s: longer than the workflow's own first backoff (2 s), so a resend that ignored Retry-After shows.
      proxy.failNext({ endpoint: 'bc-authorize', fault: { kind: 'status', status: 429, body: 'json', retryAfter: 4 } });
      const { authReqId } = await testCase.startPending();
      await device.decide(authReqId, 'approve');
      expectApproved(await testCase.outcome());

      const [throttled] = testCase.atProxy('bc-authorize');
      expect(throttled?.outcome).toBe(429);
      const atProvider = await testCase.atProvider('bc-authorize');
      expect(atProvider).toHaveLength(1);
      expect(atProvider[0]!.atMs - throttled!.answeredAtMs!).toBeGreaterThanOrEqual(4_000);
    });
  });

  it('connection refused (nothing listening for a moment) is sent again and approved; one request at the provider', async () => {
    await runCase('init-refused', async (testCase) => {
      // Discovery gets through; right after it the proxy stops listening, so the backchannel request itself meets
      // ECONNREFUSED, however long the worker takes to send it. The proxy listens again only once the refused
      // sending is in the history; the workflow sends again after its backoff (2 s, then 4 s, ...).
      proxy.failNext({ endpoint: 'discovery', fault: { kind: 'go-down-after' } });
      const workflowId = await testCase.start();
      const handle = testCase.temporal.workflow.getHandle(workflowId);
      const refusedYet = async () => refusedSendings((await handle.fetchHistory()).events ?? []).length > 0;
      await waitUntil(refusedYet, 'a refused backchannel request in the history', undefined, 250);
      await proxy.up();
      const { authReqId } = await waitForApprovalState(testCase.temporal, workflowId, isPending);
      await device.decide(authReqId!, 'approve');
      expectApproved(await testCase.outcome());

      const events = (await handle.fetchHistory()).events ?? [];
      const initiations = events.filter(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'requestBackchannelAuthentication',
      );
      const refused = refusedSendings(events);
      expect(refused.length).toBeGreaterThanOrEqual(1);
      // Every sending but the last was refused (one, unless the proxy came back after a second sending), typed
      // "not sent" (so sent again); the last one got through.
      expect(initiations).toHaveLength(refused.length + 1);
      expect(events.filter((e) => e.activityTaskFailedEventAttributes).length).toBe(refused.length);
      expect(testCase.atProxy('bc-authorize')).toHaveLength(1); // the refused ones never got a connection
      expect(await testCase.atProvider('bc-authorize')).toHaveLength(1);
    });
  });

  /**
   * Anything after which the request may have reached the provider ends ApprovalInitiationUncertain and is NEVER sent
   * again (that would notify the user twice). `reached`: how many requests reached the provider, by construction of
   * the fault: 0 when the fault is injected before forwarding, 1 when the proxy forwarded it.
   */
  const uncertain: Array<[string, Fault, number]> = [
    [
      'HTTP 500 (HTML page) after the provider processed it',
      { kind: 'status', status: 500, body: 'html', forward: true },
      1,
    ],
    [
      'HTTP 502 (HTML page) from a gateway that never reached the provider',
      { kind: 'status', status: 502, body: 'html' },
      0,
    ],
    [
      'HTTP 504 (JSON) after the provider processed it',
      { kind: 'status', status: 504, body: 'json', forward: true },
      1,
    ],
    ['a connection reset before the request was forwarded', { kind: 'reset' }, 0],
    ['no answer at all (the client times out), never forwarded', { kind: 'no-answer' }, 0],
    [
      'an answer so late the client timed out (forwarded once the client gave up)',
      { kind: 'forward-after-client-gone' },
      1,
    ],
    ['the answer dropped (reset) after the provider accepted the request', { kind: 'drop-response' }, 1],
    ['the answer cut off mid-body after the provider accepted the request', { kind: 'truncate-body' }, 1],
  ];
  it.each(uncertain)('%s: ApprovalInitiationUncertain, not re-sent', async (_name, fault, reached) => {
    await runCase(`init-uncertain-${fault.kind}`, async (testCase) => {
      proxy.failNext({ endpoint: 'bc-authorize', fault });
      await testCase.start();
      expectFailure(await testCase.outcome(), 'ApprovalInitiationUncertain');
      await faultsSettled(testCase, 1);

      expect(testCase.atProxy('bc-authorize')).toHaveLength(1); // never re-sent
      const atProvider = await testCase.atProvider('bc-authorize');
      expect(atProvider).toHaveLength(reached);
      if (reached) expect(atProvider[0]!.status).toBe(200); // the user WAS notified: hence "uncertain", not "failed"
    });
  });

  it('an HTML page with HTTP 200 ends InvalidProviderResponse, not re-sent', async () => {
    await runCase('init-html-200', async (testCase) => {
      proxy.failNext({ endpoint: 'bc-authorize', fault: { kind: 'html-200', forward: true } });
      await testCase.start();
      expectFailure(await testCase.outcome(), 'InvalidProviderResponse');
      expect(testCase.atProxy('bc-authorize')).toHaveLength(1);
      expect(await testCase.atProvider('bc-authorize')).toHaveLength(1); // forwarded: the provider did notify the user
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe('polls (POST /oauth/token)', () => {
  /** Transient faults: retried by Temporal (never sooner than the interval), the user approves, the agent gets tokens. */
  const transient: Array<[string, Fault, number]> = [
    ['HTTP 500 (JSON), twice', { kind: 'status', status: 500, body: 'json' }, 2],
    ['HTTP 502 (HTML page)', { kind: 'status', status: 502, body: 'html' }, 1],
    ['HTTP 503 (HTML page)', { kind: 'status', status: 503, body: 'html' }, 1],
    ['a connection reset, twice', { kind: 'reset' }, 2],
    ['no answer (the client times out)', { kind: 'no-answer' }, 1],
    [
      'an answer so late the client timed out (forwarded once the client gave up)',
      { kind: 'forward-after-client-gone' },
      1,
    ],
    ['an authorization_pending answer cut off mid-body', { kind: 'truncate-body' }, 1],
  ];
  it.each(transient)('%s: ridden through, approved', async (_name, fault, times) => {
    await runCase(`poll-${fault.kind}`, async (testCase) => {
      const { authReqId } = await testCase.startPending();
      proxy.failNext({ endpoint: 'token', fault, times });
      // Approve only once every faulted poll is over (a late-forwarded poll must not be the one that gets the tokens).
      await faultsSettled(testCase, times);
      await device.decide(authReqId, 'approve');
      const result = expectApproved(await testCase.outcome());
      expect(result.idToken).toEqual(expect.any(String));

      expect(ok(await testCase.atProvider('bc-authorize'))).toHaveLength(1);
      const polls = await testCase.atProvider('token');
      expect(ok(polls)).toHaveLength(1); // tokens issued once, and that answer was the one delivered
      expect(polls.filter((e) => e.error === 'invalid_grant')).toHaveLength(0);
    });
  });

  it('HTTP 429 with Retry-After: the next poll reaches the provider no sooner than Retry-After; approved', async () => {
    await runCase('poll-429', async (testCase) => {
      const { authReqId } = await testCase.startPending();
      // 4 s against a 1 s interval: a retry that ignored Retry-After would come after 1 s.
      proxy.failNext({ endpoint: 'token', fault: { kind: 'status', status: 429, body: 'json', retryAfter: 4 } });
      await faultsSettled(testCase, 1);
      const throttled = proxy.entries('token', testCase.sinceMs).find((e) => e.fault === 'status')!;
      const after = await waitUntil(
        async () => (await testCase.atProvider('token')).find((e) => e.atMs > throttled.answeredAtMs!),
        'a poll at the provider after the throttled one',
      );
      expect(after.atMs - throttled.answeredAtMs!).toBeGreaterThanOrEqual(4_000);

      await device.decide(authReqId, 'approve');
      expectApproved(await testCase.outcome());
    });
  });

  /** Answers that are not OAuth at all, while the request is pending: the approval ends InvalidProviderResponse. */
  const malformed: Array<[string, Fault]> = [
    ['malformed JSON (HTTP 200)', { kind: 'malformed-json' }],
    ['an HTML page with HTTP 200', { kind: 'html-200' }],
  ];
  it.each(malformed)('%s: InvalidProviderResponse', async (_name, fault) => {
    await runCase(`poll-${fault.kind}`, async (testCase) => {
      await testCase.startPending();
      proxy.failNext({ endpoint: 'token', fault });
      expectFailure(await testCase.outcome(), 'InvalidProviderResponse');
      expect(ok(await testCase.atProvider('token'))).toHaveLength(0); // no tokens were issued
    });
  });

  /**
   * A token response the provider issued (HTTP 200, tokens minted) that arrives without a usable token: the provider's
   * answer is not valid OAuth. It ends InvalidProviderResponse, never success without a token, and the approval does
   * not poll again (the provider would answer invalid_grant and revoke the tokens; the answer was not lost, it was
   * wrong, and asking the user again would only repeat it).
   */
  const invalidTokens: Array<[string, Fault]> = [
    ['without access_token', { kind: 'edit-json', remove: ['access_token'] }],
    ['without token_type', { kind: 'edit-json', remove: ['token_type'] }],
    ['with a token_type no client supports', { kind: 'edit-json', set: { token_type: 'mac' } }],
  ];
  it.each(invalidTokens)(
    'a token response %s after the user approved: InvalidProviderResponse',
    async (_name, fault) => {
      await runCase(`poll-tokens-${fault.kind}`, async (testCase) => {
        const { authReqId } = await testCase.startPending();
        proxy.failNext({ endpoint: 'token', fault, onlyIfStatus: 200 });
        await device.decide(authReqId, 'approve');
        const failure = expectFailure(await testCase.outcome(), 'InvalidProviderResponse');
        expect(failure.message).not.toMatch(/eyJ/); // whatever token did arrive is not echoed into the failure

        const polls = await testCase.atProvider('token');
        expect(ok(polls)).toHaveLength(1); // the provider did issue tokens
        expect(polls.at(-1)!.status).toBe(200); // and was not polled again
        expect(await testCase.atProvider('bc-authorize')).toHaveLength(1); // nor asked again
      });
    },
  );

  /**
   * The final answer lost on the way back (the provider issued the tokens, or recorded the denial; the worker never
   * got it). The next poll gets invalid_grant (and the provider revokes lost tokens). The lost answer may have been
   * "no": by default the approval ends ApprovalLost and the user is not asked again behind their back.
   */
  const lost: Array<[string, Fault]> = [
    ['dropped (connection reset)', { kind: 'drop-response' }],
    ['cut off mid-body', { kind: 'truncate-body' }],
  ];
  it.each(lost)('a token response %s after the user approved: ApprovalLost, not asked again', async (_name, fault) => {
    await runCase(`poll-lost-${fault.kind}`, async (testCase) => {
      const first = await testCase.startPending();
      proxy.failNext({ endpoint: 'token', fault, onlyIfStatus: 200 });
      await device.decide(first.authReqId, 'approve');
      const failure = expectFailure(await testCase.outcome(), 'ApprovalLost');
      expect(failure.message).toContain('may have been an approval or a denial');
      expect(failure.details).toEqual([{ possibleAnswers: ['approved', 'denied'], askedAgainAfterLostAnswer: false }]);

      expect(ok(await testCase.atProvider('bc-authorize'))).toHaveLength(1); // asked once, never again
      const firstPolls = (await providerLog(proxied.providerUrl, { authReqId: first.authReqId })).filter(
        (e) => e.endpoint === 'token',
      );
      expect(ok(firstPolls)).toHaveLength(1); // the lost tokens
      expect(firstPolls.at(-1)!.error).toBe('invalid_grant'); // the poll after it: the provider revoked them
    });
  });

  it('a denial lost on the way back: ApprovalLost, and the user who said no is not asked again', async () => {
    await runCase('poll-lost-denial', async (testCase) => {
      const first = await testCase.startPending();
      proxy.failNext({ endpoint: 'token', fault: { kind: 'drop-response' }, onlyIfError: 'access_denied' });
      await device.decide(first.authReqId, 'deny');
      expectFailure(await testCase.outcome(), 'ApprovalLost');

      expect(ok(await testCase.atProvider('bc-authorize'))).toHaveLength(1);
      const polls = (await providerLog(proxied.providerUrl, { authReqId: first.authReqId })).filter(
        (e) => e.endpoint === 'token',
      );
      expect(polls.map((e) => e.error)).toContain('access_denied'); // the denial the worker never got
      expect(polls.at(-1)!.error).toBe('invalid_grant');
      const { approval } = await testCase.approvals.status(first.workflowId);
      expect(approval?.asks).toHaveLength(1);
    });
  });

  it.each(lost)(
    'with askAgain.afterLostAnswer, a token response %s: asked again, marked as a repeat, tokens',
    async (_name, fault) => {
      await runCase(`poll-lost-reask-${fault.kind}`, async (testCase) => {
        const first = await testCase.startPending({ askAgain: { afterLostAnswer: true } });
        proxy.failNext({ endpoint: 'token', fault, onlyIfStatus: 200 });
        await device.decide(first.authReqId, 'approve');

        const second = await device.waitFor(`Again: ${testCase.bindingMessage}`);
        expect(second.auth_req_id).not.toBe(first.authReqId);
        await device.decide(second.auth_req_id, 'approve');
        expectApproved(await testCase.outcome());

        const initiations = (await providerLog(proxied.providerUrl, {})).filter(
          (e) =>
            e.endpoint === 'bc-authorize' && e.status === 200 && e.bindingMessage?.endsWith(testCase.bindingMessage),
        );
        expect(initiations.map((e) => [e.authReqId, e.bindingMessage])).toEqual([
          [first.authReqId, testCase.bindingMessage],
          [second.auth_req_id, `Again: ${testCase.bindingMessage}`],
        ]);
        const { approval } = await testCase.approvals.status(first.workflowId);
        expect(approval?.asks.map((ask) => ask.reason)).toEqual(['first', 'lost_token_response']);
        expect(approval?.asks[1]?.authReqId).toBe(second.auth_req_id);
      });
    },
  );
});

/** The sendings of the backchannel request in `events` that failed as never sent (connection refused). */
function refusedSendings(events: proto.api.history.v1.IHistoryEvent[]): proto.api.history.v1.IHistoryEvent[] {
  return events.filter(
    (e) => e.activityTaskFailedEventAttributes?.failure?.applicationFailureInfo?.type === 'InitiationNotSent',
  );
}

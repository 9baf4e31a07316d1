/**
 * Reference forms of the polling loop, for bench/history.ts only: what a CIBA approval costs in history events when
 * written without the approval workflow's cadence tiers and continue-as-new. They ask again (after
 * `delayBetweenAsksSeconds`) when a request expires, so they survive providers whose requests last 5 minutes, and
 * they poll at the provider's interval all the time. They never continue as new: their history grows without bound.
 *
 * - naivePollingLoop: durable timer + normal activity per poll (~11 events per poll).
 * - localActivityPollingLoop: durable timer + local activity per poll (the poll becomes a marker event).
 * - retryPollingLoop: one activity per request that polls once per attempt and fails "retryably" while pending;
 *   Temporal's retry policy (fixed backoff = the provider's interval) does the waiting, and attempts are not
 *   recorded in history. Not one of the forms asked for: shown for comparison.
 *
 * Workflow code: deterministic, bundled with the approval workflow by bench/workflows.ts.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  proxyActivities,
  proxyLocalActivities,
  sleep,
  TimeoutFailure,
} from '@temporalio/workflow';
import type { BackchannelAcknowledgment, PollOutcome, TokenSet } from '../activities/ciba-protocol';
import type { ApprovalRequest } from '../common/approval';
import type { BenchActivities } from './bench-activities';

export interface ReferenceLoopInput {
  /** What the simulated provider receives (only loginHint, bindingMessage and requestedExpiry matter to it). */
  request: Pick<ApprovalRequest, 'bindingMessage' | 'scope'> & { loginHint: string; requestedExpiry?: number };
  delayBetweenAsksSeconds: number;
}

const initiation = proxyActivities<BenchActivities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 1 } });
const normalPoll = proxyActivities<BenchActivities>({ startToCloseTimeout: '30s' });
const localPoll = proxyLocalActivities<BenchActivities>({ startToCloseTimeout: '30s' });

type PollFn = (authReqId: string, intervalSeconds: number) => Promise<PollOutcome>;

export async function naivePollingLoop(input: ReferenceLoopInput): Promise<TokenSet> {
  return timerLoop(input, (authReqId, intervalSeconds) => normalPoll.pollToken({ authReqId, intervalSeconds }));
}

export async function localActivityPollingLoop(input: ReferenceLoopInput): Promise<TokenSet> {
  return timerLoop(input, (authReqId, intervalSeconds) => localPoll.pollToken({ authReqId, intervalSeconds }));
}

async function timerLoop(input: ReferenceLoopInput, pollOnce: PollFn): Promise<TokenSet> {
  for (;;) {
    const ack = await initiation.requestBackchannelAuthentication(input.request as ApprovalRequest);
    const outcome = await pollRequest(ack, pollOnce);
    if (outcome.kind === 'approved') return outcome.tokens;
    if (outcome.kind === 'access_denied') throw ApplicationFailure.nonRetryable('denied', 'ApprovalDenied');
    await sleep(input.delayBetweenAsksSeconds * 1000);
  }
}

/** Polls one request at its interval until it is decided or over. */
async function pollRequest(ack: BackchannelAcknowledgment, pollOnce: PollFn): Promise<PollOutcome> {
  let interval = ack.interval ?? 5;
  const expiresAt = Date.now() + ack.expiresIn * 1000;
  for (;;) {
    await sleep(interval * 1000);
    const outcome = await pollOnce(ack.authReqId, interval);
    if (outcome.kind === 'slow_down') interval += 5;
    else if (outcome.kind !== 'authorization_pending') return outcome;
    if (Date.now() >= expiresAt) return { kind: 'expired_token' };
  }
}

export async function retryPollingLoop(input: ReferenceLoopInput): Promise<TokenSet> {
  for (;;) {
    const ack = await initiation.requestBackchannelAuthentication(input.request as ApprovalRequest);
    const interval = ack.interval ?? 5;
    let outcome: PollOutcome;
    try {
      outcome = await proxyActivities<BenchActivities>({
        startToCloseTimeout: '30s',
        scheduleToCloseTimeout: ack.expiresIn * 1000 + interval * 1000,
        retry: { initialInterval: `${interval}s`, backoffCoefficient: 1 },
      }).pollByRetries({ authReqId: ack.authReqId, intervalSeconds: interval });
    } catch (error) {
      if (!(error instanceof ActivityFailure && error.cause instanceof TimeoutFailure)) throw error;
      outcome = { kind: 'expired_token' };
    }
    if (outcome.kind === 'approved') return outcome.tokens;
    if (outcome.kind === 'access_denied') throw ApplicationFailure.nonRetryable('denied', 'ApprovalDenied');
    await sleep(input.delayBetweenAsksSeconds * 1000);
  }
}

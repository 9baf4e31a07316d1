/**
 * A simulated CIBA provider for the time-skipping test server: the two activities the approval workflow calls
 * (`requestBackchannelAuthentication`, `pollToken`), answering from memory on a clock that is the test server's
 * (`testEnv.currentTimeMs()`), so its requests expire in skipped time exactly as a real provider's would in real time.
 *
 * Like a strict production provider it answers `slow_down` to a poll that comes sooner than the request's interval
 * after the previous one, `expired_token` once a request has expired, and `invalid_grant` for an id it never issued.
 * The user's decision comes at a fixed moment (relative to the first request): a poll of a request that is still
 * current at or after that moment gets the decision. Everything it saw is logged with its (test-server) time.
 *
 * Used by bench/history.ts and test/time-skipping.test.ts. Activity code: runs in the worker, not in workflows.
 */
import type { ApprovalRequest } from '../common/approval';
import { createWorkerSettingsActivities } from '../activities/activities';
import type { BackchannelAcknowledgment, PollOutcome } from '../activities/ciba-protocol';
import type { GrantAskResult } from '../activities/user-asks';

export interface SimulatedProviderOptions {
  /** The clock: the test server's time (epoch ms). */
  now: () => Promise<number>;
  /** Lifetime of a request when it asks for none (`requestedExpiry`); Auth0's default is 300 s. */
  expiresIn: number;
  /** Honour the request's `requestedExpiry` (Auth0 does, up to 72 h). Default true. */
  honourRequestedExpiry?: boolean;
  /** Minimum seconds between polls, sent as `interval`. Default 5. */
  interval?: number;
  /** The user's decision, `afterMs` after the first backchannel request; none = pending forever. */
  decision?: { kind: 'approve' | 'deny'; afterMs: number };
}

export interface SimulatedRequest {
  authReqId: string;
  loginHint?: string;
  bindingMessage: string;
  /** What was asked; granted as asked on approval (a provider with RAR). */
  authorizationDetails?: ApprovalRequest['authorizationDetails'];
  requestedAtMs: number;
  expiresAtMs: number;
  lastPollAtMs?: number;
  polls: number;
  /** How it ended, once it did. */
  outcome?: 'approved' | 'denied' | 'expired';
}

export interface SimulatedPoll {
  atMs: number;
  authReqId: string;
  outcome: PollOutcome['kind'];
}

export class SimulatedProvider {
  readonly requests: SimulatedRequest[] = [];
  readonly polls: SimulatedPoll[] = [];
  /** Polls answered slow_down (a poll sooner than the interval): 0 for a client that respects the interval. */
  slowDowns = 0;
  /** The latest time the provider saw (for progress reports). */
  lastSeenMs = 0;
  private readonly interval: number;

  constructor(private readonly options: SimulatedProviderOptions) {
    this.interval = options.interval ?? 5;
  }

  get firstRequestAtMs(): number | undefined {
    return this.requests[0]?.requestedAtMs;
  }

  /** When the user decides (test-server time), once the first request exists. */
  get decisionAtMs(): number | undefined {
    const first = this.firstRequestAtMs;
    return first === undefined || !this.options.decision ? undefined : first + this.options.decision.afterMs;
  }

  /**
   * The two CIBA activities, under the names the workflow calls them by, and the worker's settings (timer mode: the
   * measured loop is the default one).
   */
  readonly activities = {
    ...createWorkerSettingsActivities({ pollingMode: 'timer' }),
    requestBackchannelAuthentication: async (request: ApprovalRequest): Promise<BackchannelAcknowledgment> => {
      const now = await this.clock();
      const lifetime =
        (this.options.honourRequestedExpiry ?? true) && request.requestedExpiry !== undefined
          ? request.requestedExpiry
          : this.options.expiresIn;
      const authReqId = `sim-${this.requests.length + 1}`;
      this.requests.push({
        authReqId,
        loginHint: request.loginHint,
        bindingMessage: request.bindingMessage,
        authorizationDetails: request.authorizationDetails,
        requestedAtMs: now,
        expiresAtMs: now + lifetime * 1000,
        polls: 0,
      });
      return { authReqId, expiresIn: lifetime, interval: this.interval };
    },

    /** The approval's metrics report: nothing to count here (the real worker's is tested on the real stack). */
    recordApprovalMetrics: async (): Promise<void> => {},

    /** The per-user ask gate: the simulated user takes every ask (the real gate is tested on the real stack). */
    grantAsk: async (): Promise<GrantAskResult> => ({ answer: { kind: 'granted' }, gateId: 'simulated-ask-gate' }),

    pollToken: async (input: { authReqId: string; intervalSeconds: number }): Promise<PollOutcome> => {
      const now = await this.clock();
      const outcome = this.answer(input.authReqId, now);
      this.polls.push({ atMs: now, authReqId: input.authReqId, outcome: outcome.kind });
      return outcome;
    },
  };

  private answer(authReqId: string, now: number): PollOutcome {
    const request = this.requests.find((r) => r.authReqId === authReqId);
    if (!request) return { kind: 'invalid_grant', description: 'unknown auth_req_id' };
    if (request.outcome === 'approved' || request.outcome === 'denied') {
      // Already answered: a second poll of a decided request is no longer honoured.
      return { kind: 'invalid_grant', description: 'auth_req_id already used' };
    }
    request.polls += 1;
    const tooSoon = request.lastPollAtMs !== undefined && now - request.lastPollAtMs < this.interval * 1000;
    request.lastPollAtMs = now;
    if (now >= request.expiresAtMs) {
      request.outcome = 'expired';
      return { kind: 'expired_token', description: 'the request has expired' };
    }
    if (tooSoon) {
      this.slowDowns += 1;
      return { kind: 'slow_down' };
    }
    const decisionAt = this.decisionAtMs;
    if (decisionAt !== undefined && now >= decisionAt && this.options.decision) {
      if (this.options.decision.kind === 'deny') {
        request.outcome = 'denied';
        return { kind: 'access_denied', description: 'the user denied the request' };
      }
      request.outcome = 'approved';
      return {
        kind: 'approved',
        tokens: {
          tokenType: 'Bearer',
          accessToken: `access-token-for-${authReqId}`,
          expiresIn: 3600,
          scope: 'openid',
          authorizationDetails: request.authorizationDetails,
        },
      };
    }
    return { kind: 'authorization_pending' };
  }

  private async clock(): Promise<number> {
    const now = await this.options.now();
    this.lastSeenMs = Math.max(this.lastSeenMs, now);
    return now;
  }
}

/**
 * The activities the benchmark's worker registers: the simulated provider's two CIBA activities (the names the
 * approval workflow calls) plus `pollByRetries` for the retry-based reference loop.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { PollOutcome } from '../activities/ciba-protocol';
import type { SimulatedProvider } from './simulated-provider';

export function createBenchActivities(provider: SimulatedProvider) {
  return {
    ...provider.activities,

    /**
     * One poll per attempt; while the answer is pending the attempt fails retryably and the retry policy (fixed
     * backoff = the interval) schedules the next one. slow_down carries its grown interval to later attempts in the
     * heartbeat details and asks for it with nextRetryDelay.
     */
    async pollByRetries(input: { authReqId: string; intervalSeconds: number }): Promise<PollOutcome> {
      const info = Context.current().info;
      const interval = (info.heartbeatDetails as number | undefined) ?? input.intervalSeconds;
      const outcome = await provider.activities.pollToken({ authReqId: input.authReqId, intervalSeconds: interval });
      if (outcome.kind === 'authorization_pending' || outcome.kind === 'slow_down') {
        const next = outcome.kind === 'slow_down' ? interval + 5 : interval;
        if (next !== input.intervalSeconds) Context.current().heartbeat(next);
        throw ApplicationFailure.create({
          message: outcome.kind,
          type: 'AuthorizationPending',
          nextRetryDelay: `${next}s`,
        });
      }
      return outcome;
    },
  };
}

export type BenchActivities = ReturnType<typeof createBenchActivities>;

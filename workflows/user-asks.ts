/**
 * The per-user ask gate: one small workflow per user, keyed by a keyed hash of the user's hint (no e-mail or user id
 * in its workflow ID), that grants every ask before it is sent. Its state is Temporal's, so the limits hold across
 * workers and restarts, not per process. The bookkeeping is common/ask-gate.ts (pure).
 *
 * Started on demand by the first ask (update-with-start: activities/user-asks.ts), it ends on its own once it holds
 * nothing (an hour or two after the user's last ask), and continues as new before its history grows large.
 */
import { allHandlersFinished, condition, continueAsNew, setHandler, workflowInfo } from '@temporalio/workflow';
import {
  emptyGate,
  grant,
  isIdle,
  idleAtMs,
  prune,
  release,
  grantAskUpdate,
  releaseAskSignal,
  type GateState,
} from '../common/ask-gate';

/** Continue as new past this many events (each grant is about four). */
const MAX_EVENTS = 2_000;
/** An idle gate waits this long for another ask before it ends (a new one starts it again at no loss). */
const IDLE_GRACE_MS = 60_000;

export async function cibaUserAsks(carried?: GateState): Promise<void> {
  let state = carried ?? emptyGate();
  let changes = 0;
  setHandler(grantAskUpdate, (request) => {
    const result = grant(state, request, Date.now());
    state = result.state;
    changes++;
    return result.answer;
  });
  setHandler(releaseAskSignal, ({ approvalId }) => {
    state = release(state, approvalId);
    changes++;
  });

  for (;;) {
    state = prune(state, Date.now());
    const seen = changes;
    const info = workflowInfo();
    if (info.historyLength > MAX_EVENTS || info.continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof cibaUserAsks>(prune(state, Date.now()));
    }
    // Expired entries are dropped lazily, by each grant: the gate only needs to wake when it may end.
    const idleAt = idleAtMs(state);
    const waitMs = Math.max(IDLE_GRACE_MS, (idleAt ?? 0) - Date.now());
    const changed = await condition(() => changes !== seen, waitMs);
    if (!changed && isIdle(prune(state, Date.now()))) {
      await condition(allHandlersFinished);
      if (changes === seen) return;
    }
  }
}

/**
 * The approval's current details for the Temporal UI (`setCurrentDetails`, Markdown): where it stands, which ask and
 * why it was sent, the next poll, the ask's expiry, the last provider answer. Pure: built from the status query's
 * answer, so the UI and `ciba status` tell the same story. Not a history event: it costs nothing to keep current.
 * No tokens or auth_req_ids here (the UI shows it to whoever may read the workflow, after the codec server).
 */
import type { ApprovalState, AskReason, PollingMode } from '../common/approval';

export interface WaitingNow {
  /** When the next poll is due (timer mode), epoch ms. */
  nextPollAtMs?: number;
  pollingMode?: PollingMode;
  intervalSeconds?: number;
  maxAsks: number;
}

const WHY: Record<AskReason, string> = {
  first: 'the first ask',
  expired: 'sent again: the previous ask expired undecided',
  lost_token_response: "sent again: the previous ask's answer was lost",
};

/** "2026-11-26 10:02:05 UTC" */
function when(iso: string | number): string {
  return `${new Date(iso).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

export function currentDetails(state: ApprovalState, now: WaitingNow): string {
  const lines: string[] = [];
  const ask = state.asks[state.asks.length - 1];
  if (state.status === 'initiating') lines.push('**initiating**: sending the backchannel request');
  else if (state.status === 'pending') lines.push('**pending**: waiting for the user to decide');
  else lines.push(`**${state.status}**${state.failure ? `: ${state.failure.message}` : ''}`);
  lines.push(''); // Markdown: a list needs a blank line before it
  if (ask) {
    lines.push(`- ask ${ask.number} of at most ${now.maxAsks} (${WHY[ask.reason]}), sent ${when(ask.askedAt)}`);
    if (state.status === 'pending' && ask.expiresAt) lines.push(`- the ask expires ${when(ask.expiresAt)}`);
  }
  if (state.status === 'pending') {
    if (now.pollingMode === 'compact') {
      lines.push(
        `- polled inside the worker every ${now.intervalSeconds ?? '?'} s (compact mode): progress in the pending activity`,
      );
    } else if (now.nextPollAtMs !== undefined) {
      lines.push(`- next poll ${when(now.nextPollAtMs)} (every ${now.intervalSeconds ?? '?'} s)`);
    }
  }
  if (state.lastPollOutcome && state.lastPollAt) {
    lines.push(`- last provider answer: ${state.lastPollOutcome}, ${when(state.lastPollAt)}`);
  }
  lines.push(
    `- polls ${state.polls}, slow_downs ${state.slowDowns}; approval deadline ${when(state.approvalDeadline)}`,
  );
  return lines.join('\n');
}

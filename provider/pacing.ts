import type { FileStore } from './file-store';

/** Polls this much earlier than the interval are still accepted (network jitter, timer skew). */
const TOLERANCE_MS = 250;
/** CIBA / RFC 8628: on slow_down the interval grows by 5 s for this and every later poll. */
const SLOW_DOWN_STEP_SECONDS = 5;

interface PacingState {
  clientId: string;
  /** The request's current polling interval in seconds. */
  interval: number;
  /** When the last poll (or the bc-authorize response) happened, epoch ms. */
  lastAtMs: number;
  polls: number;
  /** slow_down answers still owed because a test asked for them (dev control). */
  forced: number;
  /** The client was pinged (decided): polls are no longer paced. */
  notified?: boolean;
}

export type PollVerdict =
  { slowDown: false } | { slowDown: true; interval: number; reason: 'too-fast' | 'every-nth' | 'forced' };

function pacingKey(authReqId: string): string {
  return `CibaPacing:${authReqId}`;
}

/**
 * A ping-mode client was notified that the request is decided (CIBA Core 10.2): its next polls come at once, as they
 * should, and are not "too fast".
 */
export function markNotified(store: FileStore, authReqId: string): void {
  const state = store.get<PacingState>(pacingKey(authReqId));
  if (state) store.update(pacingKey(authReqId), { ...state, notified: true });
}

/**
 * Enforces the polling interval per auth_req_id the way a strict provider does (oidc-provider itself never
 * answers slow_down). State lives in the provider's FileStore, so it survives restarts.
 */
export class Pacing {
  constructor(
    private readonly store: FileStore,
    private readonly options: { pollInterval: number; slowDownEvery: number },
  ) {}

  private key(authReqId: string): string {
    return pacingKey(authReqId);
  }

  get(authReqId: string): PacingState | undefined {
    return this.store.get<PacingState>(this.key(authReqId));
  }

  /** Called when /bc-authorize answered: the first poll is measured from this moment. */
  start(authReqId: string, clientId: string, expiresIn: number): void {
    const state: PacingState = {
      clientId,
      interval: this.options.pollInterval,
      lastAtMs: Date.now(),
      polls: 0,
      forced: 0,
    };
    this.store.set(this.key(authReqId), state, expiresIn + 60);
  }

  /** Makes the next `count` polls answer slow_down. Undefined when the request is unknown. */
  force(authReqId: string, count: number): PacingState | undefined {
    const state = this.get(authReqId);
    if (!state) return undefined;
    const next = { ...state, forced: state.forced + count };
    this.store.update(this.key(authReqId), next);
    return next;
  }

  /** Registers a poll by the request's own (authenticated) client and says whether it must answer slow_down. */
  poll(authReqId: string, clientId: string): PollVerdict {
    const state = this.get(authReqId);
    if (!state || state.clientId !== clientId) return { slowDown: false };

    const now = Date.now();
    const polls = state.polls + 1;
    let reason: 'too-fast' | 'every-nth' | 'forced' | undefined;
    let forced = state.forced;
    if (forced > 0) {
      forced -= 1;
      reason = 'forced';
    } else if (!state.notified && now - state.lastAtMs < state.interval * 1000 - TOLERANCE_MS) {
      reason = 'too-fast';
    } else if (this.options.slowDownEvery > 0 && polls % this.options.slowDownEvery === 0) {
      reason = 'every-nth';
    }

    const interval = reason ? state.interval + SLOW_DOWN_STEP_SECONDS : state.interval;
    this.store.update(this.key(authReqId), { ...state, interval, lastAtMs: now, polls, forced });
    return reason ? { slowDown: true, interval, reason } : { slowDown: false };
  }
}

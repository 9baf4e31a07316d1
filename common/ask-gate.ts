/**
 * The per-user ask gate's bookkeeping (pure): who may be asked now, across every approval and every worker.
 *
 * One gate per user (workflows/user-asks.ts) grants each ask before it is sent:
 * - at most `maxPending` asks pending on the user's device at once (a lease per approval, released when its ask
 *   ends, or at the latest when the ask must have expired);
 * - at most `maxPerHour` asks in any hour;
 * - a request (its start seal's `requestId`) asks for one run chain only: a copy of the input started again, under
 *   the same workflow ID, is refused as a replay.
 *
 * Deterministic: no I/O, the clock passed in. Shared by the gate's workflow and the activity that asks it.
 */
import { defineSignal, defineUpdate } from '@temporalio/workflow';

/** The gate's workflow type (workflows/user-asks.ts). */
export const USER_ASKS_WORKFLOW = 'cibaUserAsks';
/** Grant one ask (idempotent per `askKey`). */
export const grantAskUpdate = defineUpdate<AskGrant, [AskGrantRequest]>('grantAsk');
/** An approval's ask ended: free its lease. */
export const releaseAskSignal = defineSignal<[{ approvalId: string }]>('releaseAsk');

export const HOUR_MS = 3_600_000;
/** How long a request's first run chain is remembered: beyond the seal's freshness window, and the hourly window. */
export const REQUEST_MEMORY_MS = 2 * HOUR_MS;

export interface AskLimits {
  /** Asks pending for the user at once, across approvals. */
  maxPending: number;
  /** Asks in any rolling hour. */
  maxPerHour: number;
}

/** One ask to grant. */
export interface AskGrantRequest {
  /** The approval's workflow ID. */
  approvalId: string;
  /** The approval's run chain (its first run's ID): continued runs keep it, a copy started again has another. */
  chainId: string;
  /** The start seal's requestId. */
  requestId: string;
  /** Names this ask uniquely (approval and ask number): granting it again is a no-op, so retries are safe. */
  askKey: string;
  /** How long the ask may stay pending at most (its requested expiry, or a default): the lease's length. */
  leaseMs: number;
  limits: AskLimits;
}

export type AskGrant =
  | { kind: 'granted' }
  | {
      kind: 'limited';
      limit: 'pending' | 'hourly';
      max: number;
      /** When an ask would be granted again, if nothing else changes (ISO 8601). */
      retryAt: string;
    }
  | { kind: 'replayed'; message: string };

export interface Lease {
  approvalId: string;
  askKey: string;
  untilMs: number;
}

export interface GateState {
  leases: Lease[];
  /** Granted asks of the last hour, oldest first. */
  asks: { askKey: string; atMs: number }[];
  /** Which run chain each recent request asked for. */
  requests: { requestId: string; chainId: string; untilMs: number }[];
}

export const emptyGate = (): GateState => ({ leases: [], asks: [], requests: [] });

/** Drops what has expired by `nowMs`. */
export function prune(state: GateState, nowMs: number): GateState {
  return {
    leases: state.leases.filter((lease) => lease.untilMs > nowMs),
    asks: state.asks.filter((ask) => ask.atMs + HOUR_MS > nowMs),
    requests: state.requests.filter((request) => request.untilMs > nowMs),
  };
}

export const isIdle = (state: GateState): boolean =>
  !state.leases.length && !state.asks.length && !state.requests.length;

/** When the gate will hold nothing, if nothing changes (undefined: it holds nothing now). */
export function idleAtMs(state: GateState): number | undefined {
  const times = [
    ...state.leases.map((lease) => lease.untilMs),
    ...state.asks.map((ask) => ask.atMs + HOUR_MS),
    ...state.requests.map((request) => request.untilMs),
  ];
  return times.length ? Math.max(...times) : undefined;
}

/** Grant one ask, or say why not. */
export function grant(
  before: GateState,
  request: AskGrantRequest,
  nowMs: number,
): { state: GateState; answer: AskGrant } {
  const state = prune(before, nowMs);
  const seen = state.requests.find((r) => r.requestId === request.requestId);
  if (seen && seen.chainId !== request.chainId) {
    return {
      state,
      answer: {
        kind: 'replayed',
        message: 'this request already asked the user from another run of its workflow: the input was started again',
      },
    };
  }
  const requests = [
    ...state.requests.filter((r) => r.requestId !== request.requestId),
    { requestId: request.requestId, chainId: request.chainId, untilMs: nowMs + REQUEST_MEMORY_MS },
  ];
  if (state.asks.some((ask) => ask.askKey === request.askKey)) {
    return { state: { ...state, requests }, answer: { kind: 'granted' } }; // a retry of a granted ask
  }
  // An approval asking again replaces its own lease: it is one ask on the device at a time.
  const leases = state.leases.filter((lease) => lease.approvalId !== request.approvalId);
  const { maxPending, maxPerHour } = request.limits;
  if (leases.length >= maxPending) {
    const freed = leases.map((lease) => lease.untilMs).sort((a, b) => a - b)[leases.length - maxPending]!;
    return { state, answer: limited('pending', maxPending, freed) };
  }
  if (state.asks.length >= maxPerHour) {
    return { state, answer: limited('hourly', maxPerHour, state.asks[state.asks.length - maxPerHour]!.atMs + HOUR_MS) };
  }
  return {
    state: {
      leases: [...leases, { approvalId: request.approvalId, askKey: request.askKey, untilMs: nowMs + request.leaseMs }],
      asks: [...state.asks, { askKey: request.askKey, atMs: nowMs }],
      requests,
    },
    answer: { kind: 'granted' },
  };
}

/** The approval's ask ended (decided, expired, or the approval ended): its lease is free. */
export function release(state: GateState, approvalId: string): GateState {
  return { ...state, leases: state.leases.filter((lease) => lease.approvalId !== approvalId) };
}

function limited(limit: 'pending' | 'hourly', max: number, retryAtMs: number): AskGrant {
  return { kind: 'limited', limit, max, retryAt: new Date(retryAtMs).toISOString() };
}

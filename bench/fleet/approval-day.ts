/**
 * Temporal actions per approval-day (issue 19): what one approval that waits a whole day for its user costs in
 * Temporal Cloud actions, from one run of `npm run bench` that waits much less. The model, per approval:
 *
 *   day = observed + tail rate × (24 h − observed span) + ending
 *
 * - observed: every action from the start until the first decision, the observed span being the time from the
 *   approval's ask (its first backchannel request; p50 over the run) to the first decision (`--wait` after all were
 *   pending). It holds the start and the fast tier and whatever else the code does early.
 * - tail rate: actions per second over the *tail*, the second half of the waiting (from halfway between all pending
 *   and the first decision to that decision), counted over whole cycles (from the first moment in the tail at which
 *   the count rose to the last: a window edge that cuts a polling or heartbeat cycle does not skew it). Extrapolated to
 *   the rest of the day: the tail must lie past the fast tier and hold at least two cycles of the slow one (`--wait`
 *   long enough; tailStartsAfterSeconds says where it began, tailCycles how many rises it saw).
 * - ending: the actions from the first decision to the last result (the last poll, the completion, metrics reports).
 *
 * Two counts: the server's own `action` counter (Prometheus, scraped every 10 s; it has recorded heartbeats, queries
 * and rejected updates too), and the sampled histories (temporal-fleet.ts actionsIn: what Cloud bills from history
 * events; no heartbeats, no queries). Nothing here knows the code's cadences or tiers: it reads what happened.
 */
import { sum } from './measure';
import type { RunRecord } from './records';

export const DAY_SECONDS = 86_400;
/** Temporal Cloud's list price per action (about $50 per million at the first tier). */
export const DOLLARS_PER_ACTION = 50 / 1e6;

export interface ApprovalDay {
  /** Seconds from the ask (p50) to the first decision. */
  observedSeconds: number;
  /** Seconds from the ask (p50) to the start of the tail. */
  tailStartsAfterSeconds: number;
  server?: DayCount;
  history?: DayCount;
}

export interface DayCount {
  observed: number;
  tailPerHour: number;
  /** Times the count rose in the tail (server: 10-s scrapes; history: per approval, averaged). */
  tailCycles: number;
  ending: number;
  day: number;
  /** Per action type, the same model. */
  dayByType: Map<string, number>;
}

export function approvalDay(run: RunRecord, askMs: number | undefined): ApprovalDay | undefined {
  const phases = run.phases;
  const t = run.temporal;
  if (!phases || !t || askMs === undefined || run.mode.kind !== 'temporal') return undefined;
  const decideMs = phases.decideStartMs;
  const tailFromMs = phases.allPendingMs + (decideMs - phases.allPendingMs) / 2;
  const observedSeconds = (decideMs - askMs) / 1000;
  const rest = Math.max(0, DAY_SECONDS - observedSeconds);
  return {
    observedSeconds,
    tailStartsAfterSeconds: (tailFromMs - askMs) / 1000,
    server: serverDay(run, tailFromMs, decideMs, rest),
    history: historyDay(run, tailFromMs, decideMs, rest),
  };
}

function serverDay(run: RunRecord, tailFromMs: number, decideMs: number, rest: number): DayCount | undefined {
  const t = run.temporal!;
  const series = t.serverActionSeries ?? [];
  if (series.length < 2 || !t.serverActionsAfterDecision) return undefined;
  const n = run.n;
  const first = series[0]!;
  const last = series.at(-1)!;
  const types = new Set([...last.counts.keys(), ...t.serverActionsAfterDecision.keys()]);
  const at = (p: (typeof series)[number], type?: string) =>
    type === undefined ? sum(p.counts.values()) : (p.counts.get(type) ?? 0);
  // The tail's rises: scrapes in the tail whose total is above the one before.
  const rises = series.filter(
    (p, i) => i > 0 && p.atMs >= tailFromMs && p.atMs <= decideMs && at(p) > at(series[i - 1]!),
  );
  const tailRate = (type?: string) => {
    if (rises.length >= 2 && rises.at(-1)!.atMs > rises[0]!.atMs)
      return (at(rises.at(-1)!, type) - at(rises[0]!, type)) / ((rises.at(-1)!.atMs - rises[0]!.atMs) / 1000);
    // Fewer than two rises: the average over the tail, from the last scrape before it to the last one.
    const from = series.filter((p) => p.atMs <= tailFromMs).at(-1) ?? first;
    if (last.atMs <= from.atMs) return 0;
    return (at(last, type) - at(from, type)) / ((last.atMs - from.atMs) / 1000);
  };
  const model = (type?: string) => {
    const observed = (at(last, type) - at(first, type)) / n;
    const ending =
      (type === undefined
        ? sum(t.serverActionsAfterDecision!.values())
        : (t.serverActionsAfterDecision!.get(type) ?? 0)) / n;
    const rate = tailRate(type) / n;
    return { observed, rate, ending, day: observed + rate * rest + ending };
  };
  const total = model();
  return {
    observed: total.observed,
    tailPerHour: total.rate * 3600,
    tailCycles: rises.length,
    ending: total.ending,
    day: total.day,
    dayByType: new Map([...types].map((type) => [type, model(type).day] as const).filter(([, v]) => v > 0)),
  };
}

function historyDay(run: RunRecord, tailFromMs: number, decideMs: number, rest: number): DayCount | undefined {
  const samples = run.temporal!.sampleActionTimes ?? [];
  if (!samples.length) return undefined;
  const perApproval = samples.map(({ actions }) => {
    const model = (type?: string) => {
      const mine = actions.filter((a) => type === undefined || a.type === type);
      const observed = sum(mine.filter((a) => a.atMs < decideMs).map((a) => a.count));
      const ending = sum(mine.filter((a) => a.atMs >= decideMs).map((a) => a.count));
      const inTail = mine.filter((a) => a.atMs >= tailFromMs && a.atMs < decideMs).sort((a, b) => a.atMs - b.atMs);
      // Whole cycles: the actions after the first one in the tail up to the last, over the time between them.
      const rate =
        inTail.length >= 2 && inTail.at(-1)!.atMs > inTail[0]!.atMs
          ? sum(inTail.slice(1).map((a) => a.count)) / ((inTail.at(-1)!.atMs - inTail[0]!.atMs) / 1000)
          : sum(inTail.map((a) => a.count)) / Math.max(1, (decideMs - tailFromMs) / 1000);
      return { observed, ending, rate, rises: inTail.length, day: observed + rate * rest + ending };
    };
    return {
      total: model(),
      byType: new Map([...new Set(actions.map((a) => a.type))].map((ty) => [ty, model(ty).day])),
    };
  });
  const mean = (values: number[]) => sum(values) / values.length;
  const types = new Set(perApproval.flatMap((p) => [...p.byType.keys()]));
  return {
    observed: mean(perApproval.map((p) => p.total.observed)),
    tailPerHour: mean(perApproval.map((p) => p.total.rate)) * 3600,
    tailCycles: mean(perApproval.map((p) => p.total.rises)),
    ending: mean(perApproval.map((p) => p.total.ending)),
    day: mean(perApproval.map((p) => p.total.day)),
    dayByType: new Map([...types].map((type) => [type, mean(perApproval.map((p) => p.byType.get(type) ?? 0))])),
  };
}

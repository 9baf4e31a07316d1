/**
 * From one run's records to its figures. Times come from one clock (every process runs on this machine): the
 * client's, the provider's request log (provider/request-log.ts) and Temporal's event and close times.
 */
import os from 'node:os';
import type { RequestLogEntry } from '../../provider/request-log';
import { approvalDay, type ApprovalDay } from './approval-day';
import { percentile, steadyRate, sum, type PerRole } from './measure';
import type { RunRecord } from './records';

/** The workflow polls at the provider's interval for the first 5 minutes of an ask (workflows/polling.ts). */
export const FAST_WINDOW_MS = 300_000;
/** A process at or above this many cores over its busiest 5 s ran flat out (Node: one core). */
const SATURATED_CORES = 0.9;

export interface Spread {
  p50?: number;
  p95?: number;
  p99?: number;
}

export interface Figures {
  label: string;
  run: RunRecord;
  approved: number;
  lost: number;
  reAsked: number;
  uncertain: number;
  otherOutcomes: Map<string, number>;
  ok: boolean;
  decisionToResultMs: Spread;
  /** The result handed back: the user's decision → result (approvals), the activity's end → result (the floor). */
  handBackMs: Spread;
  /** Start call → first backchannel request at the provider (the floor: → its activity's start). */
  startToAskMs: Spread;
  /** Starts acknowledged per second in the burst (Temporal: start() returned; baseline: bc-authorize answered). */
  startsPerSecond?: number;
  /** Backchannel requests the provider answered per second, from the first start call to the last answer. */
  asksPerSecond?: number;
  pollLatenessMs: Spread;
  pollGaps: number;
  slowDowns: number;
  pollsPerSecond?: number;
  pollsPerSecondAsked: number;
  polls: number;
  wallSeconds: number;
  cpuSeconds: PerRole<number>;
  /** The machinery that polls: worker + Temporal server, or (baseline) this process. */
  engineCpuSeconds?: number;
  engineCpuPerPollMs?: number;
  /** Worker + server CPU (baseline: the bench process) per poll in the steady waiting window: what a poll costs. */
  waitingCpuPerPollMs?: number;
  engineCpuPerApprovalMs?: number;
  providerCpuPerPollMs?: number;
  /** All measured processes' CPU over the run, as a share of the machine's cores. */
  machineBusy?: number;
  providerSaturated: boolean;
  /** The measured processes together used nearly every core over their busiest 5 s. */
  machineSaturated: boolean;
  historyEvents?: { mean: number; max: number; runs: number };
  /** Billable actions per approval: from the server's `action` counter, and estimated from sampled histories. */
  actionsPerApproval?: number;
  actionsPerApprovalFromHistory?: number;
  /** Per approval per hour of waiting (the waiting phase, all approvals pending, extrapolated to an hour). */
  actionsPerWaitingHour?: number;
  actionsPerWaitingHourFromHistory?: number;
  /** Where the time from start call to backchannel request goes, step by step (sampled histories). */
  startSteps?: Array<{ step: string; ms: Spread }>;
  /** Actions per approval-day (approval-day.ts): Temporal modes with phases only. */
  approvalDay?: ApprovalDay;
}

/** Each step of a start, from the client's call to the provider's log of the first /bc-authorize. */
function startStepSpreads(run: RunRecord, firstAskMs: (bindingMessage: string) => number | undefined) {
  const samples = run.temporal?.startSteps ?? [];
  if (!samples.length) return undefined;
  const startCall = new Map(run.approvals.map((a) => [a.bindingMessage, a.startCallMs]));
  const steps: Array<[string, (s: (typeof samples)[number]) => [number | undefined, number | undefined]]> = [
    ['start call → workflow started', (s) => [startCall.get(s.bindingMessage), s.workflowStartedMs]],
    ['→ first workflow task picked up', (s) => [s.workflowStartedMs, s.firstTaskStartedMs]],
    ['→ first workflow task completed', (s) => [s.firstTaskStartedMs, s.firstTaskCompletedMs]],
    ['→ initiation activity picked up', (s) => [s.initiationScheduledMs, s.initiationStartedMs]],
    ['→ request at the provider', (s) => [s.initiationStartedMs, firstAskMs(s.bindingMessage)]],
  ];
  return steps.map(([step, span]) => ({
    step,
    ms: spread(
      samples.flatMap((s) => {
        const [from, to] = span(s);
        return from !== undefined && to !== undefined ? [to - from] : [];
      }),
    ),
  }));
}

/**
 * Events per second of one approval while it waits, counted over whole polling cycles: the events after its first
 * poll in the window up to its last, over the time between the two (a window edge then cuts no cycle). With fewer
 * than two polls in the window: the events in the window over its length.
 */
function perCycleRate(times: number[], polls: number[], fromMs: number, toMs: number): number {
  const inside = polls.filter((p) => p >= fromMs && p < toMs).sort((a, b) => a - b);
  if (inside.length >= 2 && inside.at(-1)! > inside[0]!) {
    const [first, last] = [inside[0]!, inside.at(-1)!];
    return times.filter((t) => t > first && t <= last).length / ((last - first) / 1000);
  }
  return toMs > fromMs ? times.filter((t) => t >= fromMs && t < toMs).length / ((toMs - fromMs) / 1000) : 0;
}

const spread = (values: number[]): Spread => ({
  p50: percentile(values, 50),
  p95: percentile(values, 95),
  p99: percentile(values, 99),
});

const perSecond = (count: number, fromMs: number, toMs: number) =>
  toMs > fromMs ? count / ((toMs - fromMs) / 1000) : undefined;

export function analyse(run: RunRecord): Figures {
  const label = `${run.mode.name} n=${run.n}${run.serverName ? ` (${run.serverName})` : ''}`;
  const { approvals, phases, providerLog } = run;
  const bcByMessage = new Map<string, RequestLogEntry[]>();
  const tokenByAuthReq = new Map<string, RequestLogEntry[]>();
  for (const entry of providerLog) {
    if (entry.endpoint === 'bc-authorize' && entry.status === 200) {
      bcByMessage.set(entry.bindingMessage!, [...(bcByMessage.get(entry.bindingMessage!) ?? []), entry]);
    } else if (entry.endpoint === 'token' && entry.authReqId) {
      const list = tokenByAuthReq.get(entry.authReqId) ?? [];
      list.push(entry);
      tokenByAuthReq.set(entry.authReqId, list);
    }
  }

  const otherOutcomes = new Map<string, number>();
  let approved = 0;
  let lost = 0;
  let uncertain = 0;
  const floor = run.mode.kind === 'floor';
  const success = floor ? 'completed' : 'approved';
  for (const a of approvals) {
    if (a.outcome === success) approved++;
    else if (a.outcome === undefined || a.outcome === 'ApprovalLost') lost++;
    else if (a.outcome === 'ApprovalInitiationUncertain') uncertain++;
    else otherOutcomes.set(a.outcome, (otherOutcomes.get(a.outcome) ?? 0) + 1);
  }
  const reAsked = approvals.filter((a) => (bcByMessage.get(a.bindingMessage)?.length ?? 0) > 1).length;
  const neverAsked = floor ? 0 : approvals.filter((a) => !bcByMessage.has(a.bindingMessage)).length;
  if (neverAsked) otherOutcomes.set('never asked (no bc-authorize)', neverAsked);

  const decisionToResultMs = spread(
    approvals.flatMap((a) => (a.outcome === 'approved' && a.decidedMs && a.resultMs ? [a.resultMs - a.decidedMs] : [])),
  );
  const firstAsk = (a: (typeof approvals)[number]) => bcByMessage.get(a.bindingMessage)?.[0];
  // The floor: start → its activity's start, and its activity's end → its close.
  const startToAskMs = floor
    ? spread(approvals.flatMap((a) => (a.activityStartMs ? [a.activityStartMs - a.startCallMs] : [])))
    : spread(approvals.flatMap((a) => (firstAsk(a) ? [firstAsk(a)!.atMs - a.startCallMs] : [])));
  const handBackMs = floor
    ? spread(approvals.flatMap((a) => (a.activityEndMs && a.resultMs ? [a.resultMs - a.activityEndMs] : [])))
    : decisionToResultMs;
  const startSteps = startStepSpreads(run, (message) => bcByMessage.get(message)?.[0]?.atMs);
  const firstCall = Math.min(...approvals.map((a) => a.startCallMs));
  const acks = approvals.flatMap((a) => (a.startAckMs ? [a.startAckMs] : []));
  const askTimes = floor
    ? approvals.flatMap((a) => (a.activityStartMs ? [a.activityStartMs] : []))
    : approvals.flatMap((a) => (firstAsk(a) ? [firstAsk(a)!.atMs] : []));

  // Poll lateness: each gap between two polls of one auth_req_id minus the interval then in force (5 s more after
  // each slow_down), in the fast window of the ask.
  const lateness: number[] = [];
  let slowDowns = 0;
  const askedAt = new Map([...bcByMessage.values()].flat().map((e) => [e.authReqId!, e.atMs]));
  const ourAuthReqIds = [...askedAt.keys()];
  for (const authReqId of ourAuthReqIds) {
    const polls = (tokenByAuthReq.get(authReqId) ?? []).sort((a, b) => a.atMs - b.atMs);
    let interval = run.intervalSeconds;
    for (let i = 0; i < polls.length; i++) {
      if (polls[i]!.error === 'slow_down') slowDowns++;
      if (i === 0) continue;
      if (polls[i - 1]!.error === 'slow_down') interval += 5;
      if (polls[i - 1]!.atMs - askedAt.get(authReqId)! < FAST_WINDOW_MS)
        lateness.push(polls[i]!.atMs - polls[i - 1]!.atMs - interval * 1000);
    }
  }
  const allPolls = ourAuthReqIds.flatMap((id) => tokenByAuthReq.get(id) ?? []);
  // Achieved polling rate: each auth_req_id's polls per second over whole cycles of steady waiting, summed.
  const pollsPerSecond =
    phases && !floor
      ? sum(
          ourAuthReqIds.map((id) =>
            steadyRate(
              (tokenByAuthReq.get(id) ?? []).map((p) => p.atMs),
              phases.steadyFromMs,
              phases.decideStartMs,
            ),
          ),
        )
      : undefined;

  const cpu = run.cpu;
  const engineCpuSeconds =
    run.mode.kind === 'baseline'
      ? cpu.bench
      : cpu.worker !== undefined && cpu.server !== undefined
        ? cpu.worker + cpu.server
        : undefined;
  const wallSeconds = phases ? (phases.doneMs - phases.burstStartMs) / 1000 : 0;
  const t = run.temporal;
  const waitHours = phases ? (phases.decideStartMs - phases.steadyFromMs) / 3_600_000 : 0;
  const n = run.n;
  return {
    label,
    run,
    approved,
    lost,
    reAsked,
    uncertain,
    otherOutcomes,
    ok: approved === n && reAsked === 0 && lost === 0 && uncertain === 0 && otherOutcomes.size === 0,
    decisionToResultMs,
    handBackMs,
    startToAskMs,
    startsPerSecond: acks.length ? perSecond(acks.length, firstCall, Math.max(...acks)) : undefined,
    asksPerSecond: askTimes.length ? perSecond(askTimes.length, firstCall, Math.max(...askTimes)) : undefined,
    pollLatenessMs: spread(lateness),
    pollGaps: lateness.length,
    slowDowns,
    pollsPerSecond,
    pollsPerSecondAsked: n / run.intervalSeconds,
    polls: allPolls.length,
    wallSeconds,
    cpuSeconds: cpu,
    engineCpuSeconds,
    engineCpuPerPollMs:
      engineCpuSeconds !== undefined && allPolls.length ? (engineCpuSeconds * 1000) / allPolls.length : undefined,
    waitingCpuPerPollMs: waitingCpuPerPoll(run),
    engineCpuPerApprovalMs: engineCpuSeconds !== undefined ? (engineCpuSeconds * 1000) / n : undefined,
    providerCpuPerPollMs:
      cpu.provider !== undefined && allPolls.length ? (cpu.provider * 1000) / allPolls.length : undefined,
    machineBusy: wallSeconds ? sum(Object.values(cpu)) / wallSeconds / os.cpus().length : undefined,
    providerSaturated: (run.busiestCores.provider ?? 0) >= SATURATED_CORES,
    machineSaturated: (run.busiestCores.all ?? 0) >= SATURATED_CORES * os.cpus().length,
    historyEvents: t && {
      mean: sum(t.historyEvents) / Math.max(1, t.historyEvents.length),
      max: Math.max(0, ...t.historyEvents),
      runs: sum(t.runsPerApproval) / Math.max(1, t.runsPerApproval.length),
    },
    actionsPerApproval: t && t.serverActions.size ? sum(t.serverActions.values()) / n : undefined,
    actionsPerApprovalFromHistory: t?.sampled ? sum(t.sampleActions.values()) / t.sampled : undefined,
    actionsPerWaitingHour:
      t && t.serverActions.size && waitHours ? sum(t.serverActionsWhileWaiting.values()) / n / waitHours : undefined,
    actionsPerWaitingHourFromHistory:
      t?.sampled && phases
        ? sum(
            t.sampleWaitingActionTimes.map(({ bindingMessage, times }) => {
              const ids = (bcByMessage.get(bindingMessage) ?? []).map((e) => e.authReqId!);
              const polls = ids.flatMap((id) => tokenByAuthReq.get(id) ?? []).map((p) => p.atMs);
              return perCycleRate(times, polls, phases.steadyFromMs, phases.decideStartMs) * 3600;
            }),
          ) / t.sampled
        : undefined,
    startSteps,
    approvalDay: approvalDay(run, percentile(askTimes, 50)),
  };
}

/** Worker + server CPU (baseline: the bench process) per poll answered in the steady waiting window. */
function waitingCpuPerPoll(run: RunRecord): number | undefined {
  const cpu = run.waitingCpu;
  const phases = run.phases;
  if (!cpu || !phases) return undefined;
  const engine = run.mode.kind === 'baseline' ? cpu.bench : (cpu.worker ?? 0) + (cpu.server ?? 0);
  const polls = run.providerLog.filter(
    (e) => e.endpoint === 'token' && e.atMs >= phases.steadyFromMs && e.atMs < phases.decideStartMs,
  ).length;
  return engine !== undefined && polls ? (engine * 1000) / polls : undefined;
}

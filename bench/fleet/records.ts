/** What one run records, filled in by run.ts, temporal-fleet.ts and baseline.ts, and read by analysis.ts. */
import type { AppliedFault } from '../../devstack/cluster/faults';
import type { RequestLogEntry } from '../../provider/request-log';
import type { PerRole } from './measure';
import type { Mode } from './modes';

/** One approval, as the client and the scripted device saw it (epoch ms, this machine's clock). */
export interface ApprovalRecord {
  bindingMessage: string;
  workflowId?: string;
  /** Just before the start call (Temporal: ApprovalClient.start; baseline: the backchannel request). */
  startCallMs: number;
  /** The start was acknowledged (Temporal: start() returned; baseline: the provider answered bc-authorize). */
  startAckMs?: number;
  /** The device's approve call returned. */
  decidedMs?: number;
  /** The result was there (Temporal: the workflow's close time on the server; baseline: the token response). */
  resultMs?: number;
  /** 'approved' (the floor: 'completed'), else the failure type or error. */
  outcome?: string;
  /** The floor only: its activity began (just before its GET) and ended (the worker's clock, this machine's). */
  activityStartMs?: number;
  activityEndMs?: number;
}

export interface Phases {
  burstStartMs: number;
  burstEndMs: number;
  allPendingMs: number;
  /** Steady waiting (every approval asked, recorded, polling) from here to decideStartMs. */
  steadyFromMs: number;
  decideStartMs: number;
  decideEndMs: number;
  doneMs: number;
}

/** Counted from Temporal (temporal modes only). */
export interface TemporalCounts {
  /** History events per approval, all of them (visibility's historyLength, summed over continued runs). */
  historyEvents: number[];
  runsPerApproval: number[];
  /** Histories fetched in full. */
  sampled: number;
  /** Billable actions per type counted in the sampled histories (estimate; see analysis.ts). */
  sampleActions: Map<string, number>;
  /** Of those, per type, actions whose event time lies in the steady waiting window (steadyFromMs to decideStartMs). */
  sampleActionsWhileWaiting: Map<string, number>;
  /** Per sampled approval, when its actions of steady waiting happened (analysis.ts counts them per polling cycle). */
  sampleWaitingActionTimes: Array<{ bindingMessage: string; times: number[] }>;
  /** The server's `action` counter over the whole run and over the waiting window (all approvals). */
  serverActions: Map<string, number>;
  serverActionsWhileWaiting: Map<string, number>;
  /** The server's counter from the first decision to the last result (all approvals): what ending costs. */
  serverActionsAfterDecision?: Map<string, number>;
  /** The server's counter (cumulative, all approvals) every few seconds from just before the burst to the decisions. */
  serverActionSeries?: Array<{ atMs: number; counts: Map<string, number> }>;
  /** Per sampled approval, every billable action its histories show, with its event time. */
  sampleActionTimes?: Array<{ bindingMessage: string; actions: Array<{ type: string; atMs: number; count: number }> }>;
  /** Per sampled approval, its first run's start in server event times (where start → request goes). */
  startSteps: StartSteps[];
}

/** One approval's way from the start call to its first backchannel request, as its history shows it (epoch ms). */
export interface StartSteps {
  bindingMessage: string;
  /** WorkflowExecutionStarted. */
  workflowStartedMs: number;
  /** The first workflow task picked up by the worker, and completed. */
  firstTaskStartedMs?: number;
  firstTaskCompletedMs?: number;
  /** The first requestBackchannelAuthentication activity: scheduled, and picked up by the worker. */
  initiationScheduledMs?: number;
  initiationStartedMs?: number;
}

export interface RunRecord {
  mode: Mode;
  n: number;
  /** The server it ran on, when the run had more than one (--cluster). */
  serverName?: string;
  intervalSeconds: number;
  skipped?: string;
  approvals: ApprovalRecord[];
  phases?: Phases;
  /** CPU seconds used per process from the burst to the last result. */
  cpu: PerRole<number>;
  /** CPU seconds in the steady waiting window only (steadyFromMs to decideStartMs): the marginal cost of polling. */
  waitingCpu?: PerRole<number>;
  /** CPU seconds from the burst until every approval was pending at the provider: what starting N costs. */
  startCpu?: PerRole<number>;
  peakRssMiB: PerRole<number>;
  /** VmHWM at the end: the peak over the process's whole life (a worker's includes bundling the workflow code). */
  lifetimePeakRssMiB: PerRole<number>;
  /** Busiest 5 s of each process, in cores; `all`: of all measured processes together. */
  busiestCores: PerRole<number> & { all?: number };
  providerLog: RequestLogEntry[];
  temporal?: TemporalCounts;
  /** The faults applied while the approvals waited (--faults), each with the time until the part was back. */
  faults?: AppliedFault[];
  /** A server of several processes (the cluster): per part, CPU seconds over the run and peak resident memory. */
  parts?: Record<string, { cpuSeconds: number; peakRssMiB: number }>;
}

/**
 * The approval workflow's own metrics: what only the workflow knows (an approval started, how it ended, how long the
 * user took), exported with the SDK's metrics by the worker's runtime (worker/main.ts: CIBA_METRICS_ADDRESS,
 * Prometheus). Labels are closed sets (status words, failure types, answer kinds): never a token, an auth_req_id, a
 * user or a binding message.
 *
 * Counted once per approval, whatever its workflow tasks do. Emitting from workflow code (the workflow's metricMeter)
 * is not: the SDK hands the metric to the worker when the activation finishes, before the server has accepted the
 * task's commands. When the server rejects them (UNHANDLED_COMMAND: a signal or cancel request came in while the task
 * that ends the approval ran; or a task that timed out or failed), the worker runs that code again in the next task,
 * not as a replay, and counts again. So the workflow reports its metrics through an activity
 * (`recordApprovalMetrics`, activities/approval-metrics.ts): the activity is scheduled by the command of a task the
 * server accepted, which happens once per workflow, and a replay never runs it again. One report when the approval
 * has started (not awaited), one as it ends (the outcome, and the decision's times, known only then), awaited before
 * the workflow closes, and never failing the approval. Its retries (a worker that died mid-report, whose counts died
 * with it) are told apart per process (the activity's own dedup), so each approval is counted once.
 *
 * Runs started before this (patch METRICS_COUNTED_ONCE) emit from workflow code as they did, so their histories
 * replay (test/replay.test.ts).
 *
 * Asks and polls are counted where they happen, in the activities (activities/activities.ts).
 */
import { CancellationScope, log, metricMeter, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { MetricMeter } from '@temporalio/common';
import type { TokenSet } from '../activities/ciba-protocol';
import { failureOutcome, type ApprovalStatus } from '../common/outcomes';
import type { PollDecision } from './polling';
import { since, type ApprovalPatch } from './patches';

/** Metric names, as the Prometheus endpoint shows them (counters get `_total` there). */
export const WORKFLOW_METRICS = {
  approvalsStarted: 'ciba_approvals_started',
  approvalsEnded: 'ciba_approvals_ended',
  timeToDecision: 'ciba_time_to_decision_seconds',
  decisionToResult: 'ciba_decision_to_result_seconds',
} as const;

/** Runs from before it emit their metrics from workflow code (counted again when a task is retried). */
export const METRICS_COUNTED_ONCE: ApprovalPatch = 'metrics-counted-once';

/** What the workflow reports to the worker's metrics: all of it values from the workflow's history. */
export interface ApprovalMetricsReport {
  /** The approval's first run started (continued-as-new runs are the same approval). */
  started?: true;
  /** How it ended: the status word and the failure type (`none` when approved, `other` when unknown). */
  ended?: { outcome: ApprovalStatus; failureType: string };
  /** The user's final answer was read: seconds since the ask's acknowledgment. */
  decision?: { answer: 'approved' | 'denied'; seconds: number };
  /** The tokens were handed back: seconds since the user approved at the provider. */
  result?: { from: 'auth_time' | 'token_issued'; seconds: number };
}

/** The activity the workflow reports through (registered by worker/worker.ts approvalActivities). */
export interface ApprovalMetricsActivities {
  recordApprovalMetrics(report: ApprovalMetricsReport): Promise<void>;
}

/**
 * Emits a report on `meter`: the workflow's metricMeter (runs from before METRICS_COUNTED_ONCE) or the worker's, in
 * the activity, with the same names, descriptions and labels.
 */
export function emitApprovalMetrics(meter: MetricMeter, report: ApprovalMetricsReport): void {
  if (report.started) {
    meter
      .createCounter(
        WORKFLOW_METRICS.approvalsStarted,
        undefined,
        'Approvals started (the first run of each; continued-as-new runs are not counted again)',
      )
      .add(1);
  }
  if (report.decision) {
    meter
      .createHistogram(
        WORKFLOW_METRICS.timeToDecision,
        'float',
        's',
        "From the ask's acknowledgment by the provider to the workflow reading the user's final answer",
      )
      .record(report.decision.seconds, { answer: report.decision.answer });
  }
  if (report.ended) {
    meter
      .createCounter(
        WORKFLOW_METRICS.approvalsEnded,
        undefined,
        'Approvals ended, by outcome (the status word) and failure type',
      )
      .add(1, { outcome: report.ended.outcome, failure_type: report.ended.failureType });
  }
  if (report.result) {
    meter
      .createHistogram(
        WORKFLOW_METRICS.decisionToResult,
        'float',
        's',
        "From the user's approval at the provider (ID token auth_time, else the access token's iat) to the result",
      )
      .record(report.result.seconds, { from: report.result.from });
  }
}

/** The failure type of an ending that names none (as the client reports it). */
const DEFAULT_FAILURE_TYPES: Partial<Record<ApprovalStatus, string>> = {
  cancelled: 'ApprovalCancelled',
  failed: 'ApprovalFailed',
};

/**
 * Short and few: a report is a counter's increment. A worker without the activity (one that registers the approval
 * activities by hand) fails it at once (NotFoundError is not retried): the approval goes on, uncounted, with a warning.
 */
const METRICS_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '10s',
  retry: { initialInterval: '1s', maximumAttempts: 3, nonRetryableErrorTypes: ['NotFoundError'] },
  summary: "count in the worker's metrics",
};
const metricsActivity = proxyActivities<ApprovalMetricsActivities>(METRICS_OPTIONS);

/**
 * One approval's metrics (one per run). Create it once, at the start of the workflow function: it decides there
 * whether this run reports through the activity (METRICS_COUNTED_ONCE) or, as runs from before did, from workflow code.
 */
export class ApprovalMetrics {
  private readonly once = since(METRICS_COUNTED_ONCE);
  private readonly reports: Promise<void>[] = [];
  private atEnd: ApprovalMetricsReport = {};

  /** An approval started: call in its first run only. Reported at once, not waited for (until the end). */
  started(): void {
    if (!this.once) return emitApprovalMetrics(metricMeter, { started: true });
    this.reports.push(this.send({ started: true }));
  }

  /**
   * An approval ended: `outcome` is its final status word (approved, denied, expired, failed, cancelled),
   * `failureType` the failure type (an ApprovalFailureType) when it failed. An unknown type is counted as `other`
   * (labels stay a closed set). Reported by `flush()`.
   */
  ended(outcome: ApprovalStatus, failureType?: string): void {
    const known = failureType ?? DEFAULT_FAILURE_TYPES[outcome];
    const type = known === undefined ? 'none' : failureOutcome(known) ? known : 'other';
    this.add({ ended: { outcome, failureType: type } });
  }

  /** The user's final answer was read (approved or denied): the time since the current ask was acknowledged. */
  decision(run: { polling?: { askedAtMs: number } }, decision: PollDecision): void {
    if (decision.kind !== 'approved' && decision.kind !== 'denied') return;
    const askedAtMs = run.polling?.askedAtMs;
    if (askedAtMs === undefined) return;
    this.add({ decision: { answer: decision.kind, seconds: Math.max(0, Date.now() - askedAtMs) / 1000 } });
  }

  /**
   * The tokens are handed back: the time since the user approved at the provider, by the ID token's `auth_time`
   * (label `from="auth_time"`); a provider that sends none (the local one, unless asked) gives the JWT access token's
   * `iat` instead (`from="token_issued"`: the poll that fetched the answer, so only the polling delay is left out).
   * Whole seconds, the provider's clock; nothing is recorded without either.
   */
  result(tokens: Pick<TokenSet, 'idToken' | 'accessToken'>): void {
    const authTime = numericClaim(tokens.idToken, 'auth_time');
    const issuedAt = authTime === undefined ? numericClaim(tokens.accessToken, 'iat') : undefined;
    const decidedAt = authTime ?? issuedAt;
    if (decidedAt === undefined) return;
    this.add({
      result: {
        from: authTime !== undefined ? 'auth_time' : 'token_issued',
        seconds: Math.max(0, Date.now() / 1000 - decidedAt),
      },
    });
  }

  /**
   * The approval is about to close (return or throw): report what is left and wait for every report, so that none is
   * dropped with the workflow. Never throws; not cancellable (a cancelled approval is counted too).
   */
  async flush(): Promise<void> {
    if (!this.once) return;
    const report = this.atEnd;
    this.atEnd = {};
    if (Object.keys(report).length) this.reports.push(this.send(report));
    const reports = this.reports.splice(0);
    await CancellationScope.nonCancellable(() => Promise.all(reports));
  }

  private add(part: ApprovalMetricsReport): void {
    if (this.once) this.atEnd = { ...this.atEnd, ...part };
    else emitApprovalMetrics(metricMeter, part);
  }

  /** Schedules one report; its failure is logged, never thrown (metrics never change an approval). */
  private send(report: ApprovalMetricsReport): Promise<void> {
    return CancellationScope.nonCancellable(() =>
      metricsActivity.recordApprovalMetrics.executeWithOptions(METRICS_OPTIONS, [report]),
    ).catch((error: unknown) => {
      log.warn(`approval metrics not counted: ${(error as Error).message}`);
    });
  }
}

/** A numeric claim of a JWT, read without verifying it (for a metric only); undefined when there is none. */
export function numericClaim(jwt: string | undefined, claim: 'auth_time' | 'iat'): number | undefined {
  const payload = jwt?.split('.')[1];
  if (!payload) return undefined;
  const match = new RegExp(`"${claim}"\\s*:\\s*(\\d+)`).exec(base64UrlToLatin1(payload));
  return match ? Number(match[1]) : undefined;
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Base64url to a string of bytes (workflow code has no Buffer); enough to find an ASCII claim in it. */
function base64UrlToLatin1(text: string): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const char of text) {
    const digit = BASE64URL.indexOf(char);
    if (digit < 0) continue;
    value = ((value << 6) | digit) & 0xffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += String.fromCharCode((value >> bits) & 0xff);
    }
  }
  return out;
}

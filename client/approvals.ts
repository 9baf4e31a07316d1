/**
 * Client library for agent services that are not Temporal workflows: start an approval, read its status,
 * wait for its result, cancel it. Starting is idempotent by a caller-supplied key: the same key always means the
 * same approval (one workflow, one notification), whether it is running or already finished.
 */
import { randomUUID } from 'node:crypto';
import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type WorkflowExecutionDescription,
  type WorkflowExecutionStatusName,
} from '@temporalio/client';
import {
  ApplicationFailure,
  CancelledFailure,
  TerminatedFailure,
  TimeoutFailure,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
} from '@temporalio/common';
import {
  ApprovalRequestSchema,
  formatZodError,
  type ApprovalRequestInput,
  type ApprovalResult,
  type ApprovalState,
} from '../common/approval';
import { approvalDetails, approvalSummary, listSummary } from '../common/approval-summary';
import { sealFor, type StartSeal } from '../common/start-seal';
import { ApprovalFailureType, type ApprovalStatus } from '../common/outcomes';
import { PROVIDER_PROFILES, profileViolations, type ProviderProfileName } from '../common/provider-profile';
import { connectWithToken } from '../common/client-credentials-token';
import { DEFAULT_TEMPORAL_UI_URL, temporalSettings, temporalUiLink, type TemporalSettings } from '../common/config';
import { CIBA_APPROVAL_STATUS, CIBA_SUMMARY } from '../common/search-attributes';
import { PayloadKeyMismatchError } from '../common/payload-codec';
import { grpcStatusOf } from '../common/grpc-status';
import { keyMismatchMessage } from '../common/rejected-payload';
import { approvalStatusQuery, cibaApproval } from '../workflows/approval';
import type { CompactPollProgress } from '../activities/compact-polling';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client';

/**
 * A start seal for the workflow `workflowId`, issued now, with a new random request id (common/start-seal.ts). Put it in
 * the input (`seal`) of any workflow that checks it: the approval (ApprovalClient does), the sample agents.
 */
export function newStartSeal(workflowId: string): StartSeal {
  return sealFor(workflowId, randomUUID(), Date.now());
}

/** Prefix of the workflow IDs this client gives approvals. */
export const APPROVAL_ID_PREFIX = 'ciba-approval-';
const KEY_PATTERN = /^[\w.:@-]{1,200}$/;

/** Bad input: nothing was started. */
export class InvalidApprovalRequestError extends Error {
  override readonly name = 'InvalidApprovalRequestError';
}

/** The approval ended without tokens; `type` says why (an ApprovalFailureType: common/outcomes.ts). */
export class ApprovalFailedError extends Error {
  override readonly name: string = 'ApprovalFailedError';
  constructor(
    readonly workflowId: string,
    readonly type: string,
    message: string,
    readonly details: unknown[] = [],
  ) {
    super(message); // `type` is a field of its own: the message does not repeat it
  }
}

/**
 * The approval's payloads and a payload key do not match (type PayloadKeyMismatch); `reason` names the key ids.
 * - unreadableBy 'worker': the approval was started with a key the worker does not have; it ended without asking
 *   anyone (PayloadKeyMismatch). Start it again with the worker's key.
 * - unreadableBy 'client': this client's keys cannot read what the worker wrote (its status or result); the approval
 *   itself may be fine. Use a client with the worker's key (or add the key to CIBA_PAYLOAD_PREVIOUS_KEYS).
 */
export class ApprovalKeyMismatchError extends ApprovalFailedError {
  override readonly name: string = 'ApprovalKeyMismatchError';
  constructor(
    workflowId: string,
    readonly unreadableBy: 'worker' | 'client',
    /** "payload key mismatch: ... encrypted with key k-..., this client has k-..." */
    readonly reason: string,
    /** unreadableBy 'client': the key id of the payload this client could not read. */
    readonly payloadKeyId?: string,
    /** unreadableBy 'client': this client's key ids, current first. */
    readonly clientKeyIds?: string[],
  ) {
    super(workflowId, ApprovalFailureType.PayloadKeyMismatch, reason);
  }
}

export interface StartedApproval {
  workflowId: string;
  /**
   * false when an approval with this key already existed (running or finished) and was returned instead: of starts
   * that race with one key, exactly one says true.
   */
  started: boolean;
}

export interface ApprovalStatusReport {
  workflowId: string;
  /** Temporal's view: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT, ... */
  execution: WorkflowExecutionStatusName;
  /** The approval's own view (from its status query); absent when no worker could answer it. */
  approval?: ApprovalState;
  /**
   * How a FAILED approval ended when its status query could not say (e.g. PayloadNotEncrypted: it was started
   * without the payload key, and no approval code ran). A PayloadKeyMismatch is thrown instead (ApprovalKeyMismatchError).
   */
  failure?: { type: string; message: string };
  /** Compact polling mode: where the pending polling activity stands, from its last heartbeat. */
  compactPolling?: CompactPollingReport;
}

/** The progress a compact-mode polling activity heartbeats (its pending activity in the Temporal UI shows the same). */
export interface CompactPollingReport {
  /** The activity's attempt: above 1 after a worker died mid-wait (it resumed from the heartbeat). */
  attempt: number;
  /** Polls of the current ask so far. */
  polls: number;
  intervalSeconds: number;
  slowDowns: number;
  lastAnswer?: string;
  lastPollAt?: string;
}

/** Status words an approval can be listed by (`ciba list --status`). */
export const LISTABLE_STATUSES = [
  'initiating',
  'pending',
  'approved',
  'denied',
  'expired',
  'failed',
  'cancelled',
] as const satisfies readonly ApprovalStatus[];

/** One approval in a list: from the visibility store, and its static summary (decrypted). Never a token. */
export interface ListedApproval {
  workflowId: string;
  /**
   * The CibaApprovalStatus search attribute; when the run never set it (it ended before its first status, e.g. on an
   * input the worker refused, or has not run its first workflow task yet), the status its execution status implies
   * ({@link statusOfExecution}).
   */
  status: ApprovalStatus;
  /** Temporal's view: RUNNING, COMPLETED, FAILED, ... */
  execution: WorkflowExecutionStatusName;
  startedAt: string;
  closedAt?: string;
  /** The workflow's static summary (common/approval-summary.ts), decrypted; absent when this client cannot read it. */
  summary?: string;
}

/** Where a waiting approval stands, for a progress line: the status query, and compact polling's heartbeat. */
export interface ApprovalProgress {
  status: ApprovalStatus;
  askCount: number;
  /** The current ask's expiry (ISO), while one is pending. */
  expiresAt?: string;
  approvalDeadline: string;
  /** Polls of the approval so far (compact mode: with the polls of the current ask not recorded yet). */
  polls: number;
  lastPollOutcome?: string;
}

export class ApprovalClient {
  constructor(
    readonly client: Client,
    readonly taskQueue: string,
    /** When set (CIBA_PROVIDER_PROFILE), requests are checked against the provider's rules before anything starts. */
    readonly providerProfile?: ProviderProfileName,
    /** TEMPORAL_UI_URL: where links to an approval's run point. */
    readonly uiUrl: string = DEFAULT_TEMPORAL_UI_URL,
    /** CIBA_SUMMARY_SEARCH_ATTRIBUTE: approvals started here carry CibaSummary (plaintext on the server). */
    readonly summarySearchAttribute = false,
  ) {}

  /** Connects with the settings from the environment (see common/config.ts). */
  static async connect(settings: TemporalSettings = temporalSettings()): Promise<ApprovalClient> {
    return new ApprovalClient(
      await connectTemporalClient(settings),
      settings.taskQueue,
      settings.providerProfile,
      settings.uiUrl,
      settings.summarySearchAttribute,
    );
  }

  /** The approval's run in the Temporal UI. */
  uiLink(workflowId: string): string {
    return temporalUiLink(this.uiUrl, this.client.options.namespace, workflowId);
  }

  /**
   * Approvals on this client's task queue, newest first, through a visibility query on the CibaApprovalStatus search
   * attribute (visibility is eventually consistent: a status changed a moment ago may not be listed yet).
   */
  async list(options: { status?: ApprovalStatus; limit?: number } = {}): Promise<ListedApproval[]> {
    const limit = options.limit ?? 20;
    const query = approvalListQuery(this.taskQueue, options.status);
    const listed: ListedApproval[] = [];
    for await (const info of this.client.workflow.list({ query, pageSize: Math.min(limit, 1000) })) {
      listed.push({
        workflowId: info.workflowId,
        status:
          (info.typedSearchAttributes.get(CIBA_APPROVAL_STATUS) as ApprovalStatus | undefined) ??
          statusOfExecution(info.status.name),
        execution: info.status.name,
        startedAt: info.startTime.toISOString(),
        closedAt: info.closeTime?.toISOString(),
      });
      if (listed.length >= limit) break;
    }
    // The list API carries no user metadata: the summary comes from each run's description (decrypted by the codec).
    await Promise.all(
      listed.map(async (approval) => {
        const summary = await this.client.workflow
          .getHandle(approval.workflowId)
          .describe()
          .then((description) => description.staticSummary())
          .catch(() => undefined);
        if (summary !== undefined) approval.summary = summary;
      }),
    );
    return listed;
  }

  /** The status query, with compact polling's heartbeated polls; undefined when no worker answers it (yet). */
  async progress(workflowId: string): Promise<ApprovalProgress | undefined> {
    const handle = this.client.workflow.getHandle(workflowId);
    const state = await handle.query(approvalStatusQuery).catch((error: unknown) => {
      if (payloadKeyMismatchIn(error)) throw clientKeyMismatch(workflowId, error, 'the status of') ?? error;
      return undefined;
    });
    if (!state) return undefined;
    let polls = state.polls;
    if (state.status === 'pending') {
      const compact = await handle
        .describe()
        .then((description) => this.compactPolling(description))
        .catch(() => undefined);
      if (compact) polls += compact.polls;
    }
    return {
      status: state.status,
      askCount: state.askCount,
      expiresAt: state.expiresAt,
      approvalDeadline: state.approvalDeadline,
      polls,
      lastPollOutcome: state.lastPollOutcome,
    };
  }

  /** Validates, then starts the approval workflow; the same `key` gives the same approval. */
  async start(input: ApprovalRequestInput, options: { key?: string } = {}): Promise<StartedApproval> {
    const request = ApprovalRequestSchema.safeParse(input);
    if (!request.success) throw new InvalidApprovalRequestError(formatZodError(request.error));
    if (this.providerProfile) {
      const profile = PROVIDER_PROFILES[this.providerProfile];
      const violations = profileViolations(profile, request.data, {
        repeatable: request.data.askAgain.afterLostAnswer,
      });
      if (violations.length)
        throw new InvalidApprovalRequestError(violations.map((violation) => violation.message).join('; '));
    }
    const key = options.key ?? randomUUID();
    if (!KEY_PATTERN.test(key)) {
      throw new InvalidApprovalRequestError('key must be 1 to 200 characters of letters, digits and _ . : @ -');
    }
    const workflowId = approvalWorkflowId(key);
    try {
      await this.client.workflow.start(cibaApproval, {
        // Sealed for this workflow ID, now: a copy of this input taken from history starts nothing (README: Security model).
        args: [{ ...request.data, seal: newStartSeal(workflowId) }],
        workflowId,
        taskQueue: this.taskQueue,
        // Running or finished already: the server refuses, and that approval is returned (below). Of starts that race,
        // the server lets exactly one through. (USE_EXISTING would hand every racer the run as if it had started it.)
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        staticSummary: approvalSummary(request.data),
        staticDetails: approvalDetails(request.data),
        ...(this.summarySearchAttribute && {
          typedSearchAttributes: [{ key: CIBA_SUMMARY, value: listSummary(request.data) }],
        }),
      });
      return { workflowId, started: true };
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) return { workflowId, started: false };
      throw error;
    }
  }

  /**
   * Temporal's and the approval's view. Throws ApprovalKeyMismatchError when this client cannot read the approval's
   * status, or when the approval ended PayloadKeyMismatch.
   */
  async status(workflowId: string): Promise<ApprovalStatusReport> {
    const handle = this.client.workflow.getHandle(workflowId);
    try {
      const description = await handle.describe();
      const approval = await handle.query(approvalStatusQuery).catch((error: unknown) => {
        if (payloadKeyMismatchIn(error)) throw error;
        return undefined;
      });
      const report: ApprovalStatusReport = { workflowId, execution: description.status.name, approval };
      const compactPolling = await this.compactPolling(description);
      if (compactPolling) report.compactPolling = compactPolling;
      if (!approval && description.status.name === 'FAILED') {
        // No approval code answered (e.g. the input was refused before any ran): the close event says why.
        const ended = await this.result(workflowId).then(
          () => undefined,
          (error: unknown) => error,
        );
        if (ended instanceof ApprovalKeyMismatchError) throw ended;
        if (ended instanceof ApprovalFailedError) report.failure = { type: ended.type, message: ended.message };
      }
      return report;
    } catch (error) {
      throw clientKeyMismatch(workflowId, error, 'the status of') ?? error;
    }
  }

  /**
   * Waits for the outcome: the tokens, or an ApprovalFailedError that says why there are none (an
   * ApprovalKeyMismatchError when the worker or this client could not read the approval's payloads).
   */
  async result(workflowId: string): Promise<ApprovalResult> {
    const handle = this.client.workflow.getHandle<typeof cibaApproval>(workflowId);
    let unavailableSince: number | undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        return await handle.result();
      } catch (error) {
        // A history service restarting, or its database down, outlasts the SDK's own retries: the approval goes on,
        // so the wait does too, for RESULT_OUTAGE_WAIT_MS of such errors in a row (the signal given by
        // client.withAbortSignal still ends it at once).
        if (isServerOutage(error)) {
          unavailableSince ??= Date.now();
          if (Date.now() - unavailableSince < RESULT_OUTAGE_WAIT_MS) {
            await sleep(Math.min(1000 * 2 ** Math.min(attempt - 1, 4), 10_000));
            continue;
          }
        }
        throw clientKeyMismatch(workflowId, error, 'the result of') ?? toApprovalFailedError(workflowId, error);
      }
    }
  }

  private async compactPolling(description: WorkflowExecutionDescription): Promise<CompactPollingReport | undefined> {
    const pending = description.raw.pendingActivities?.find((a) => a.activityType?.name === 'pollUntilDecided');
    if (!pending) return undefined;
    const progress = await decodeFromPayloadsAtIndex<CompactPollProgress | undefined>(
      this.client.options.loadedDataConverter,
      0,
      pending.heartbeatDetails?.payloads,
    ).catch(() => undefined);
    if (!progress?.polling) return { attempt: pending.attempt ?? 1, polls: 0, intervalSeconds: 0, slowDowns: 0 };
    return {
      attempt: pending.attempt ?? 1,
      polls: progress.polling.polls,
      intervalSeconds: progress.polling.intervalSeconds,
      slowDowns: progress.polling.slowDowns,
      lastAnswer: progress.lastAnswer,
      lastPollAt: progress.lastPollAtMs === undefined ? undefined : new Date(progress.lastPollAtMs).toISOString(),
    };
  }

  /**
   * The workflow ID that `idOrKey` names, as `ciba status|wait|cancel` take it: a workflow ID under
   * {@link APPROVAL_ID_PREFIX} as it is; a key as `start` (and `ciba request --id`, and the Python client) turns it into
   * one, `ciba-approval-<key>`, when that approval exists; otherwise `idOrKey` itself, a full workflow ID (an agent's
   * child approval, `<parent id>/approval/<key>`).
   */
  async resolveId(idOrKey: string): Promise<string> {
    if (idOrKey.startsWith(APPROVAL_ID_PREFIX) || !KEY_PATTERN.test(idOrKey)) return idOrKey;
    const keyed = approvalWorkflowId(idOrKey);
    try {
      await this.client.workflow.getHandle(keyed).describe();
      return keyed;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return idOrKey;
      throw error;
    }
  }

  /** Asks the approval to stop; it ends as cancelled once its current step has stopped. */
  async cancel(workflowId: string): Promise<void> {
    await this.client.workflow.getHandle(workflowId).cancel();
  }

  async close(): Promise<void> {
    await this.client.connection.close();
  }
}

/** A Temporal client with the project's connection settings and encrypting data converter. */
export async function connectTemporalClient(settings: TemporalSettings = temporalSettings()): Promise<Client> {
  const connection = await connectWithToken(settings.connection, settings.credentials, (options) =>
    Connection.connect(options as Parameters<typeof Connection.connect>[0]),
  );
  return new Client({
    connection,
    namespace: settings.namespace,
    dataConverter: settings.dataConverter,
    // Tracing on (an OTLP endpoint is set): workflows started here carry the caller's active trace context, so the
    // caller's trace continues into the approval. Spans of the start go to the caller's own tracer provider.
    ...(settings.tracing && { interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } }),
  });
}

/** The visibility query of `list`: approvals (workflow type, task queue), by status word when given. */
export function approvalListQuery(taskQueue: string, status?: ApprovalStatus): string {
  const quote = (value: string) => `"${value.replace(/["\\]/g, '\\$&')}"`;
  const conditions = [`WorkflowType = ${quote(cibaApproval.name)}`, `TaskQueue = ${quote(taskQueue)}`];
  if (status) {
    const attribute = `${CIBA_APPROVAL_STATUS.name} = ${quote(status)}`;
    const executions = EXECUTION_STATUSES_BY_WORD[status];
    // Runs that never set the attribute are listed by the status their execution implies (as `list` shows them).
    conditions.push(
      executions
        ? `(${attribute} OR (${CIBA_APPROVAL_STATUS.name} IS NULL AND ExecutionStatus IN (${executions.map(quote).join(', ')})))`
        : attribute,
    );
  }
  return conditions.join(' AND ');
}

/**
 * The status word a run's execution status implies, for runs that never set CibaApprovalStatus (they ended before
 * the approval's first status, e.g. an input the worker refused; or have not run their first workflow task yet).
 */
export function statusOfExecution(execution: WorkflowExecutionStatusName): ApprovalStatus {
  switch (execution) {
    case 'COMPLETED':
      return 'approved';
    case 'CANCELLED':
      return 'cancelled';
    case 'FAILED':
    case 'TERMINATED':
    case 'TIMED_OUT':
      return 'failed';
    default: // RUNNING, PAUSED, CONTINUED_AS_NEW, UNSPECIFIED, UNKNOWN: not ended (or not known to have ended)
      return 'initiating';
  }
}

/** The ExecutionStatus values (visibility's spelling) whose runs {@link statusOfExecution} gives `status`. */
const EXECUTION_STATUSES_BY_WORD: Partial<Record<ApprovalStatus, string[]>> = {
  initiating: ['Running', 'Paused'],
  approved: ['Completed'],
  cancelled: ['Canceled'],
  failed: ['Failed', 'Terminated', 'TimedOut'],
};

/** `ciba-approval-<key>` (a key that already has the prefix is the ID itself), as in the Python client. */
export function approvalWorkflowId(key: string): string {
  return key.startsWith(APPROVAL_ID_PREFIX) ? key : `${APPROVAL_ID_PREFIX}${key}`;
}

/** The client codec's PayloadKeyMismatchError, wherever it is in the cause chain. */
function payloadKeyMismatchIn(error: unknown): PayloadKeyMismatchError | undefined {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 10; cause = cause.cause, depth++) {
    if (cause instanceof PayloadKeyMismatchError) return cause;
  }
  return undefined;
}

/** An ApprovalKeyMismatchError when `error` comes from this client failing to decrypt a payload of the approval. */
function clientKeyMismatch(workflowId: string, error: unknown, what: string): ApprovalKeyMismatchError | undefined {
  if (error instanceof ApprovalKeyMismatchError) return error;
  const mismatch = payloadKeyMismatchIn(error);
  if (!mismatch) return undefined;
  const reason = keyMismatchMessage(
    `${what} approval ${workflowId}`,
    mismatch.payloadKeyId,
    'client',
    mismatch.keyIds,
    mismatch.corrupted,
  );
  return new ApprovalKeyMismatchError(workflowId, 'client', reason, mismatch.payloadKeyId, mismatch.keyIds);
}

/** How long `result()` keeps waiting through server errors in a row (a restart, a database outage). */
export const RESULT_OUTAGE_WAIT_MS = 5 * 60_000;

/** gRPC codes of a server that is restarting or cannot reach its database: worth waiting out. */
const OUTAGE_CODES = new Set([
  14, // UNAVAILABLE
  4, // DEADLINE_EXCEEDED
  13, // INTERNAL
  2, // UNKNOWN
  8, // RESOURCE_EXHAUSTED
  10, // ABORTED
]);

/** The SDK's ServiceError around such a gRPC error (its retries ran out), or the gRPC error itself. */
function isServerOutage(error: unknown): boolean {
  const code = grpcStatusOf(error);
  return code !== undefined && OUTAGE_CODES.has(code);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function toApprovalFailedError(workflowId: string, error: unknown): unknown {
  if (!(error instanceof WorkflowFailedError)) return error;
  const cause = error.cause;
  if (cause instanceof ApplicationFailure && cause.type === ApprovalFailureType.PayloadKeyMismatch) {
    return new ApprovalKeyMismatchError(workflowId, 'worker', cause.message);
  }
  if (cause instanceof ApplicationFailure) {
    return new ApprovalFailedError(
      workflowId,
      cause.type ?? ApprovalFailureType.Failed,
      cause.message,
      cause.details ?? [],
    );
  }
  if (cause instanceof CancelledFailure)
    return new ApprovalFailedError(workflowId, ApprovalFailureType.Cancelled, 'the approval was cancelled');
  if (cause instanceof TerminatedFailure)
    return new ApprovalFailedError(workflowId, ApprovalFailureType.Terminated, 'the approval was terminated');
  if (cause instanceof TimeoutFailure)
    return new ApprovalFailedError(workflowId, ApprovalFailureType.TimedOut, 'the approval workflow timed out');
  return new ApprovalFailedError(workflowId, ApprovalFailureType.Failed, cause?.message ?? error.message);
}

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
  type WorkflowExecutionStatusName,
} from '@temporalio/client';
import { ApplicationFailure, CancelledFailure, TerminatedFailure, TimeoutFailure, WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import {
  ApprovalRequestSchema,
  formatZodError,
  type ApprovalRequestInput,
  type ApprovalResult,
  type ApprovalState,
} from '../common/approval';
import { temporalSettings, type TemporalSettings } from '../common/config';
import { approvalStatusQuery, cibaApproval } from '../workflows/approval';

/** Prefix of the workflow IDs this client gives approvals. */
export const APPROVAL_ID_PREFIX = 'ciba-approval-';
const KEY_PATTERN = /^[\w.:@-]{1,200}$/;

/** Bad input: nothing was started. */
export class InvalidApprovalRequestError extends Error {
  override readonly name = 'InvalidApprovalRequestError';
}

/** The approval ended without tokens; `type` is an ApprovalFailureType, or ApprovalCancelled / ApprovalTerminated / ApprovalTimedOut. */
export class ApprovalFailedError extends Error {
  override readonly name = 'ApprovalFailedError';
  constructor(
    readonly workflowId: string,
    readonly type: string,
    message: string,
    readonly details: unknown[] = [],
  ) {
    super(message); // `type` is a field of its own: the message does not repeat it
  }
}

export interface StartedApproval {
  workflowId: string;
  /** false when an approval with this key already existed (running or finished) and was returned instead. */
  started: boolean;
}

export interface ApprovalStatusReport {
  workflowId: string;
  /** Temporal's view: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT, ... */
  execution: WorkflowExecutionStatusName;
  /** The approval's own view (from its status query); absent when no worker could answer it. */
  approval?: ApprovalState;
}

export class ApprovalClient {
  constructor(
    readonly client: Client,
    readonly taskQueue: string,
  ) {}

  /** Connects with the settings from the environment (see common/config.ts). */
  static async connect(settings: TemporalSettings = temporalSettings()): Promise<ApprovalClient> {
    return new ApprovalClient(await connectTemporalClient(settings), settings.taskQueue);
  }

  /** Validates, then starts the approval workflow; the same `key` gives the same approval. */
  async start(input: ApprovalRequestInput, options: { key?: string } = {}): Promise<StartedApproval> {
    const request = ApprovalRequestSchema.safeParse(input);
    if (!request.success) throw new InvalidApprovalRequestError(formatZodError(request.error));
    const key = options.key ?? randomUUID();
    if (!KEY_PATTERN.test(key)) {
      throw new InvalidApprovalRequestError('key must be 1 to 200 characters of letters, digits and _ . : @ -');
    }
    const workflowId = approvalWorkflowId(key);
    try {
      await this.client.workflow.start(cibaApproval, {
        args: [request.data],
        workflowId,
        taskQueue: this.taskQueue,
        // Running already: return it. Finished already: refuse, and return it too (below).
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        staticSummary: `Approval: ${request.data.bindingMessage}`,
      });
      return { workflowId, started: true };
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) return { workflowId, started: false };
      throw error;
    }
  }

  async status(workflowId: string): Promise<ApprovalStatusReport> {
    const handle = this.client.workflow.getHandle(workflowId);
    const description = await handle.describe();
    const approval = await handle.query(approvalStatusQuery).catch(() => undefined);
    return { workflowId, execution: description.status.name, approval };
  }

  /** Waits for the outcome: the tokens, or an ApprovalFailedError that says why there are none. */
  async result(workflowId: string): Promise<ApprovalResult> {
    try {
      return await this.client.workflow.getHandle<typeof cibaApproval>(workflowId).result();
    } catch (error) {
      throw toApprovalFailedError(workflowId, error);
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
  const connection = await Connection.connect(settings.connection as Parameters<typeof Connection.connect>[0]);
  return new Client({ connection, namespace: settings.namespace, dataConverter: settings.dataConverter });
}

export function approvalWorkflowId(key: string): string {
  return key.startsWith(APPROVAL_ID_PREFIX) ? key : `${APPROVAL_ID_PREFIX}${key}`;
}

function toApprovalFailedError(workflowId: string, error: unknown): unknown {
  if (!(error instanceof WorkflowFailedError)) return error;
  const cause = error.cause;
  if (cause instanceof ApplicationFailure) {
    return new ApprovalFailedError(workflowId, cause.type ?? 'ApprovalFailed', cause.message, cause.details ?? []);
  }
  if (cause instanceof CancelledFailure) return new ApprovalFailedError(workflowId, 'ApprovalCancelled', 'the approval was cancelled');
  if (cause instanceof TerminatedFailure) return new ApprovalFailedError(workflowId, 'ApprovalTerminated', 'the approval was terminated');
  if (cause instanceof TimeoutFailure) return new ApprovalFailedError(workflowId, 'ApprovalTimedOut', 'the approval workflow timed out');
  return new ApprovalFailedError(workflowId, 'ApprovalFailed', cause?.message ?? error.message);
}

/**
 * The MCP server's approvals, per caller, over `ApprovalClient` (client/approvals.ts): start one for a tool call,
 * read where it stands, wait for its outcome, cancel it, list the caller's. Every approval is served only to the caller
 * that started it (mcp/approval-ids.ts); any other id is "not found".
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { WorkflowNotFoundError, type WorkflowExecutionStatusName } from '@temporalio/client';
import {
  ApprovalFailedError,
  ApprovalKeyMismatchError,
  approvalListQuery,
  InvalidApprovalRequestError,
  type ApprovalClient,
} from '../client/approvals';
import { ApprovalRequestSchema, formatZodError, type ApprovalRequest } from '../common/approval';
import type { ApprovalStatus } from '../common/outcomes';
import { CIBA_APPROVAL_STATUS } from '../common/search-attributes';
import { profileViolations, type ProviderProfile } from '../common/provider-profile';
import { currentDetails } from '../workflows/current-details';
import { approvalStatusQuery } from '../workflows/approval';
import type { McpApprovalIds } from './approval-ids';
import type { Caller } from './caller';
import type { GatedTool } from './gated-tool';
import {
  approvedApproval,
  errorResult,
  outcomeResult,
  refusedApproval,
  type ApprovalOutcome,
  type PendingApproval,
} from './outcome';
import { startedRequest } from './start-input';

/** Bad arguments: nothing was started. The message names the fields. */
export class InvalidArgumentsError extends Error {
  override readonly name = 'InvalidArgumentsError';
}

/** Not this caller's approval, or no such approval (the same answer for both). */
export class ApprovalNotFoundError extends Error {
  override readonly name = 'ApprovalNotFoundError';
  constructor(approvalId: string) {
    super(`no approval ${approvalId} for this caller`);
  }
}

/** Where an approval stands, from Temporal. */
export interface ApprovalSnapshot {
  approvalId: string;
  tool: string;
  execution: WorkflowExecutionStatusName;
  /** The approval's status word (its status query), or one derived from the execution when no worker answered. */
  status: ApprovalStatus;
  /** The approval's current details (the Temporal UI's), or its status in words. */
  details: string;
  createdAt: string;
  lastUpdatedAt: string;
}

export interface ListedMcpApproval {
  approvalId: string;
  tool: string;
  status?: string;
  execution: WorkflowExecutionStatusName;
  startedAt: string;
  closedAt?: string;
  summary?: string;
}

export class McpApprovals {
  readonly tools: ReadonlyMap<string, GatedTool>;

  constructor(
    readonly client: ApprovalClient,
    readonly ids: McpApprovalIds,
    tools: readonly GatedTool[],
    /** The provider profile every request is checked against before anything starts. */
    readonly profile?: ProviderProfile,
  ) {
    this.tools = new Map(tools.map((tool) => [tool.name, tool]));
  }

  /** The approval request for a call of `toolName`, checked as every entry point checks it; throws InvalidArgumentsError. */
  requestFor(toolName: string, args: unknown, caller: Caller): ApprovalRequest {
    const tool = this.tools.get(toolName);
    if (!tool) throw new InvalidArgumentsError(`no approval tool ${toolName}`);
    const parsedArgs = tool.inputSchema.safeParse(args ?? {});
    if (!parsedArgs.success) throw new InvalidArgumentsError(`invalid arguments: ${formatZodError(parsedArgs.error)}`);
    let input: unknown;
    try {
      input = tool.approvalRequest(parsedArgs.data, caller);
    } catch (error) {
      throw new InvalidArgumentsError(`the approval request could not be built: ${(error as Error).message}`);
    }
    if (input && typeof input === 'object' && 'seal' in input && (input as { seal?: unknown }).seal !== undefined) {
      throw new InvalidArgumentsError('seal: the server seals every start itself; leave it out');
    }
    const request = ApprovalRequestSchema.safeParse(input);
    if (!request.success) throw new InvalidArgumentsError(`invalid arguments: ${formatZodError(request.error)}`);
    if (this.profile) {
      const violations = profileViolations(this.profile, request.data, {
        repeatable: request.data.askAgain.afterLostAnswer,
      });
      if (violations.length) {
        throw new InvalidArgumentsError(
          `invalid arguments: ${violations.map((v) => `${v.field}: ${v.message}`).join('; ')}`,
        );
      }
    }
    return request.data;
  }

  /** Starts the approval for `caller`'s call of `toolName`: its id (the task id). */
  async start(caller: Caller, toolName: string, args: unknown): Promise<string> {
    const request = this.requestFor(toolName, args, caller);
    try {
      const started = await this.client.start(request, { key: this.ids.newKey(caller.owner, toolName) });
      return started.workflowId;
    } catch (error) {
      if (error instanceof InvalidApprovalRequestError) throw new InvalidArgumentsError(error.message);
      throw error;
    }
  }

  /** The tool of `approvalId` when it is `caller`'s; throws ApprovalNotFoundError otherwise. */
  toolOf(caller: Caller, approvalId: string): string {
    const tool = this.ids.ownedBy(approvalId, caller.owner);
    if (tool === undefined) throw new ApprovalNotFoundError(approvalId);
    return tool;
  }

  async snapshot(caller: Caller, approvalId: string): Promise<ApprovalSnapshot> {
    const tool = this.toolOf(caller, approvalId);
    const handle = this.client.client.workflow.getHandle(approvalId);
    const description = await handle.describe().catch((error: unknown) => {
      if (error instanceof WorkflowNotFoundError) throw new ApprovalNotFoundError(approvalId);
      throw error;
    });
    const execution = description.status.name;
    const running = execution === 'RUNNING';
    // While it runs: the status query and the current details the workflow keeps (both answered by a worker).
    const state = running ? await handle.query(approvalStatusQuery).catch(() => undefined) : undefined;
    const metadata = running
      ? await handle.query<{ currentDetails?: string | null }>('__temporal_workflow_metadata').catch(() => undefined)
      : undefined;
    const recorded = description.typedSearchAttributes.get(CIBA_APPROVAL_STATUS) as ApprovalStatus | undefined;
    const status: ApprovalStatus = state?.status ?? (running ? undefined : recorded) ?? statusOfExecution(execution);
    const details =
      metadata?.currentDetails ||
      (state ? currentDetails(state, { maxAsks: state.asks.length, intervalSeconds: state.intervalSeconds }) : '') ||
      (running ? `**${status}**` : `**${status}**: the approval has ended (${execution})`);
    const createdAt = description.startTime.toISOString();
    return {
      approvalId,
      tool,
      execution,
      status,
      details,
      createdAt,
      lastUpdatedAt: (description.closeTime ?? new Date()).toISOString(),
    };
  }

  /**
   * The outcome, waiting up to `waitMs` for it (0: as it is now). Pending when the wait ran out; the wait also ends
   * when `signal` aborts (the caller went away).
   */
  async outcome(caller: Caller, approvalId: string, waitMs: number, signal?: AbortSignal): Promise<ApprovalOutcome> {
    const snapshot = await this.snapshot(caller, approvalId);
    if (snapshot.execution === 'RUNNING' && waitMs <= 0) return { kind: 'pending', pending: pendingOf(snapshot) };
    const stop = new AbortController();
    const timer = snapshot.execution === 'RUNNING' ? setTimeout(() => stop.abort(), waitMs) : undefined;
    const onAbort = () => stop.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const result = await this.client.client.withAbortSignal(stop.signal, () => this.client.result(approvalId));
      return { kind: 'approved', approval: approvedApproval(approvalId, result), result };
    } catch (error) {
      if (error instanceof ApprovalKeyMismatchError && error.unreadableBy === 'client') throw error;
      if (error instanceof ApprovalFailedError) return { kind: 'refused', refusal: refusedApproval(error) };
      if (!stop.signal.aborted) throw error;
      return { kind: 'pending', pending: pendingOf(await this.snapshot(caller, approvalId)) };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * The tool's result for an outcome: the outcome itself, or, for an approved call of a gated tool, the tool's own
   * result (its `run`, with the tokens, on what the user approved).
   */
  async toolResult(approvalId: string, tool: string, outcome: ApprovalOutcome): Promise<CallToolResult> {
    const gated = this.tools.get(tool);
    if (outcome.kind !== 'approved' || !gated?.run) return outcomeResult(outcome);
    const { request, requestId } = await startedRequest(this.client.client, approvalId);
    try {
      return await gated.run({ approvalId, request, requestId, tokens: outcome.result });
    } catch (error) {
      return errorResult(`approved, but ${tool} failed: ${(error as Error).message}`);
    }
  }

  /** Asks the approval to stop; waits up to `waitMs` for it to end. */
  async cancel(caller: Caller, approvalId: string, waitMs = 10_000): Promise<ApprovalSnapshot> {
    const before = await this.snapshot(caller, approvalId);
    if (before.execution !== 'RUNNING') return before;
    await this.client.cancel(approvalId);
    await this.client.client
      .withAbortSignal(AbortSignal.timeout(waitMs), () => this.client.client.workflow.getHandle(approvalId).result())
      .catch(() => undefined);
    return this.snapshot(caller, approvalId);
  }

  /** The caller's approvals, newest first (visibility: eventually consistent). */
  async list(caller: Caller, options: { limit?: number; pageToken?: Uint8Array } = {}): Promise<ListedMcpApproval[]> {
    const limit = options.limit ?? 20;
    const prefix = this.ids.ownerPrefix(caller.owner);
    const query = `${approvalListQuery(this.client.taskQueue)} AND WorkflowId STARTS_WITH "${prefix}"`;
    const listed: ListedMcpApproval[] = [];
    for await (const info of this.client.client.workflow.list({ query, pageSize: Math.min(limit, 100) })) {
      const tool = this.ids.ownedBy(info.workflowId, caller.owner);
      if (tool === undefined) continue; // the prefix proves nothing: only a verified tag does
      listed.push({
        approvalId: info.workflowId,
        tool,
        status: info.typedSearchAttributes.get(CIBA_APPROVAL_STATUS),
        execution: info.status.name,
        startedAt: info.startTime.toISOString(),
        ...(info.closeTime && { closedAt: info.closeTime.toISOString() }),
      });
      if (listed.length >= limit) break;
    }
    return listed;
  }
}

function pendingOf(snapshot: ApprovalSnapshot): PendingApproval {
  return { approvalId: snapshot.approvalId, status: snapshot.status, details: snapshot.details };
}

function statusOfExecution(execution: WorkflowExecutionStatusName): ApprovalStatus {
  if (execution === 'RUNNING') return 'pending';
  if (execution === 'COMPLETED') return 'approved';
  if (execution === 'CANCELLED') return 'cancelled';
  return 'failed';
}

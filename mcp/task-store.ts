/**
 * A `TaskStore` (MCP 2025-11-25 tasks, the SDK's experimental API) that keeps nothing itself: Temporal is the store.
 * The task id is the approval's workflow id; creating a task starts the approval workflow; a task's status is the
 * workflow's (describe), its status message the approval's current details, its result the workflow's result (for a
 * gated tool: the tool's own result once approved). A server restart loses no task, and any instance of the server
 * answers for any task. One store per caller: it sees only that caller's tasks (mcp/approval-ids.ts), and answers
 * "not found" for any other.
 */
import type { Request, RequestId, Result, Task } from '@modelcontextprotocol/sdk/types.js';
import type { CreateTaskOptions, TaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/interfaces.js';
import type { WorkflowExecutionStatusName } from '@temporalio/client';
import { ApprovalNotFoundError, type ApprovalSnapshot, type McpApprovals } from './approvals';
import type { Caller } from './caller';

/** How often clients are told to poll tasks/get (ms); tasks/result also re-reads the task this often. */
export const TASK_POLL_INTERVAL_MS = 2_000;
const LIST_PAGE = 50;

export function taskStatusOf(execution: WorkflowExecutionStatusName): Task['status'] {
  if (execution === 'RUNNING') return 'working';
  if (execution === 'COMPLETED') return 'completed';
  if (execution === 'CANCELLED') return 'cancelled';
  return 'failed';
}

export function taskOf(snapshot: ApprovalSnapshot): Task {
  return {
    taskId: snapshot.approvalId,
    status: taskStatusOf(snapshot.execution),
    statusMessage: snapshot.details,
    createdAt: snapshot.createdAt,
    lastUpdatedAt: snapshot.lastUpdatedAt,
    // Kept as long as the namespace keeps closed workflows (its retention): no TTL of the server's own.
    ttl: null,
    pollInterval: TASK_POLL_INTERVAL_MS,
  };
}

export class TemporalTaskStore implements TaskStore {
  constructor(
    private readonly approvals: McpApprovals,
    private readonly caller: Caller,
  ) {}

  /** Starts the approval for the task-augmented tools/call `request` (arguments already checked by the server). */
  async createTask(_params: CreateTaskOptions, _requestId: RequestId, request: Request): Promise<Task> {
    const params = request.params as { name?: unknown; arguments?: unknown } | undefined;
    const approvalId = await this.approvals.start(this.caller, String(params?.name), params?.arguments);
    return taskOf(await this.approvals.snapshot(this.caller, approvalId));
  }

  async getTask(taskId: string): Promise<Task | null> {
    try {
      return taskOf(await this.approvals.snapshot(this.caller, taskId));
    } catch (error) {
      if (error instanceof ApprovalNotFoundError) return null;
      throw error;
    }
  }

  /** The result of an ended task (the SDK asks once the task is terminal). */
  async getTaskResult(taskId: string): Promise<Result> {
    const tool = this.approvals.toolOf(this.caller, taskId);
    const outcome = await this.approvals.outcome(this.caller, taskId, 0);
    return this.approvals.toolResult(taskId, tool, outcome);
  }

  /** Results are the workflow's: nothing is stored here. */
  async storeTaskResult(taskId: string): Promise<void> {
    throw new Error(`task ${taskId}: its result is the approval workflow's, it cannot be stored`);
  }

  /** `cancelled` (tasks/cancel) cancels the approval workflow; the approval decides every other status itself. */
  async updateTaskStatus(taskId: string, status: Task['status']): Promise<void> {
    if (status !== 'cancelled') throw new Error(`task ${taskId}: only the approval workflow changes its status`);
    await this.approvals.cancel(this.caller, taskId);
  }

  async listTasks(cursor?: string): Promise<{ tasks: Task[]; nextCursor?: string }> {
    // Newest first; the cursor is the start time of the last task of the previous page (visibility has no stable
    // offset): tasks started before it.
    const before = cursor ? Date.parse(cursor) : undefined;
    if (cursor && Number.isNaN(before)) throw new Error(`invalid cursor ${cursor}`);
    const listed = await this.approvals.list(this.caller, { limit: 1000 });
    const page = listed.filter((a) => before === undefined || Date.parse(a.startedAt) < before!).slice(0, LIST_PAGE);
    const tasks = page.map((a): Task => ({
      taskId: a.approvalId,
      status: taskStatusOf(a.execution),
      statusMessage: a.status ? `**${a.status}**` : undefined,
      createdAt: a.startedAt,
      lastUpdatedAt: a.closedAt ?? a.startedAt,
      ttl: null,
      pollInterval: TASK_POLL_INTERVAL_MS,
    }));
    const last = page[page.length - 1];
    return { tasks, ...(page.length === LIST_PAGE && last && { nextCursor: last.startedAt }) };
  }
}

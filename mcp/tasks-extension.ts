/**
 * MCP 2026-07-28's tasks extension, `io.modelcontextprotocol/tasks` (SEP-2663), served by hand beside the 2025-11-25
 * tasks of the SDK (which has no extension support). Small on purpose:
 *
 * - A client declares the extension on the request (`_meta["io.modelcontextprotocol/clientCapabilities"].extensions`,
 *   2026-07-28's per-request capabilities) or at initialize (`capabilities.extensions`). Only then does a call of an
 *   approval tool answer `{ resultType: "task", taskId, status, statusMessage, createdAt, lastUpdatedAt, ttlMs,
 *   pollIntervalMs }` (the server decides; the legacy `params.task` is ignored for such a request).
 * - `tasks/get` answers the task in the extension's shape, with the tool's `result` inlined once the task has ended
 *   (completed, or failed with a refusal: a tool result with `isError`).
 * - `tasks/cancel` cancels the approval workflow and answers the task.
 * - `tasks/update` delivers input to `input_required` tasks: an approval never asks its caller for input (the person
 *   decides on their own device), so it answers "not waiting for input".
 * - Not served: `subscriptions/listen` task notifications, `server/discover`; `tasks/result` stays (2025-11-25).
 *
 * Clients that do not declare it get the 2025-11-25 shapes from the same handlers.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  CancelTaskRequestSchema,
  ErrorCode,
  GetTaskRequestSchema,
  McpError,
  type Result,
  type Task,
} from '@modelcontextprotocol/sdk/types.js';
import { isTerminal } from '@modelcontextprotocol/sdk/experimental/tasks/interfaces.js';
import { z } from 'zod';
import type { McpApprovals } from './approvals';
import type { Caller } from './caller';
import type { TemporalTaskStore } from './task-store';

export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';
export const CLIENT_CAPABILITIES_META = 'io.modelcontextprotocol/clientCapabilities';

const UpdateTaskRequestSchema = z.object({
  method: z.literal('tasks/update'),
  params: z.looseObject({ taskId: z.string() }),
});

/** Whether this request's client declared the extension (on the request, or at initialize). */
export function declaresTasksExtension(mcp: McpServer, params: unknown): boolean {
  const meta = (params as { _meta?: Record<string, unknown> } | undefined)?._meta;
  const perRequest = meta?.[CLIENT_CAPABILITIES_META] as { extensions?: Record<string, unknown> } | undefined;
  if (perRequest?.extensions?.[TASKS_EXTENSION] !== undefined) return true;
  return mcp.server.getClientCapabilities()?.extensions?.[TASKS_EXTENSION] !== undefined;
}

/** A task in the extension's shape (milliseconds named as such; `ttlMs: null`: kept as long as Temporal keeps it). */
export function extensionTask(task: Task, result?: Result): Result {
  const { ttl: _ttl, pollInterval, ...rest } = task;
  return { ...rest, ttlMs: null, pollIntervalMs: pollInterval, ...(result && { result }) };
}

/** Replaces the SDK's tasks/get and tasks/cancel (same 2025-11-25 answers) and adds tasks/update. */
export function serveTasksExtension(
  mcp: McpServer,
  store: TemporalTaskStore,
  approvals: McpApprovals,
  caller: Caller,
): void {
  const notFound = (taskId: string) => new McpError(ErrorCode.InvalidParams, `Task not found: ${taskId}`);

  mcp.server.setRequestHandler(GetTaskRequestSchema, async (request) => {
    const task = await store.getTask(request.params.taskId);
    if (!task) throw new McpError(ErrorCode.InvalidParams, 'Failed to retrieve task: Task not found');
    if (!declaresTasksExtension(mcp, request.params)) return task as never;
    const result =
      isTerminal(task.status) && task.status !== 'cancelled' ? await store.getTaskResult(task.taskId) : undefined;
    return extensionTask(task, result) as never;
  });

  mcp.server.setRequestHandler(CancelTaskRequestSchema, async (request) => {
    const { taskId } = request.params;
    const task = await store.getTask(taskId);
    if (!task) throw notFound(taskId);
    if (isTerminal(task.status)) {
      throw new McpError(ErrorCode.InvalidParams, `Cannot cancel task in terminal status: ${task.status}`);
    }
    await store.updateTaskStatus(taskId, 'cancelled');
    const cancelled = (await store.getTask(taskId)) ?? task;
    return (declaresTasksExtension(mcp, request.params) ? extensionTask(cancelled) : cancelled) as never;
  });

  mcp.server.setRequestHandler(UpdateTaskRequestSchema, async (request) => {
    const { taskId } = request.params;
    if (approvals.ids.ownedBy(taskId, caller.owner) === undefined) throw notFound(taskId);
    const task = await store.getTask(taskId);
    if (!task) throw notFound(taskId);
    throw new McpError(
      ErrorCode.InvalidParams,
      `task ${taskId} is not waiting for input (${task.status}): the person decides on their own device`,
    );
  });
}

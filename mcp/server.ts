/**
 * The MCP server: approval tools whose calls are tasks backed by the approval workflow. One `McpServer` per caller
 * (stdio: the local user, for the process's life; HTTP: per request, for the token's caller), all of them reading and
 * writing the same Temporal: nothing is kept in the server.
 *
 * Tools: `request_approval` (a task with task support; else it answers at once with the approval's id), `get_approval`
 * (status and current details; `wait` long-polls up to 50 s), `cancel_approval`, `list_approvals` (this caller's),
 * and the approval-gated tools given (`pay_invoice`: mcp/pay-invoice.ts).
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ErrorCode, McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { LISTABLE_STATUSES } from '../client/approvals';
import { ApprovalNotFoundError, InvalidArgumentsError, type McpApprovals } from './approvals';
import type { Caller } from './caller';
import { interceptTools } from './intercept';
import { errorResult, jsonResult, outcomeResult } from './outcome';
import { REQUEST_APPROVAL_DESCRIPTION, requestApprovalInputJsonSchema } from './request-schema';
import { declaresTasksExtension, extensionTask, serveTasksExtension, TASKS_EXTENSION } from './tasks-extension';
import { taskOf, TemporalTaskStore } from './task-store';

export const SERVER_INFO = { name: 'ciba-temporal', version: '0.1.0' };
/** get_approval's longest wait: under the ~60 s most clients give a tool call. */
export const MAX_WAIT_SECONDS = 50;

const INSTRUCTIONS =
  'Approvals by a person, on their own device, for actions you take on their behalf. Call request_approval (or a ' +
  'gated tool such as pay_invoice) and wait for the outcome: with tasks, poll the task; without, call get_approval ' +
  'with wait until the status is no longer pending. A refusal (denied, expired, ...) is final for that request: tell ' +
  'the user; do not ask again unless they say so.';

const ApprovalIdArgs = { approvalId: z.string().min(1).max(400).describe('The id request_approval returned') };

export function createMcpServer(approvals: McpApprovals, caller: Caller): McpServer {
  const store = new TemporalTaskStore(approvals, caller);
  const mcp = new McpServer(SERVER_INFO, {
    capabilities: {
      tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
      extensions: { [TASKS_EXTENSION]: {} },
    },
    taskStore: store,
    instructions: INSTRUCTIONS,
  });

  interceptTools(mcp, {
    list: (result) => ({
      ...result,
      tools: result.tools.map((tool) =>
        tool.name === 'request_approval'
          ? { ...tool, inputSchema: requestApprovalInputJsonSchema() as typeof tool.inputSchema }
          : tool,
      ),
    }),
    call: async (request, _extra, next) => {
      const { name, arguments: args } = request.params;
      if (!approvals.tools.has(name)) return next();
      const legacyTask = request.params.task !== undefined;
      const extension = !legacyTask && declaresTasksExtension(mcp, request.params);
      try {
        approvals.requestFor(name, args, caller); // bad arguments: a tool error naming the field, nothing started
      } catch (error) {
        if (!(error instanceof InvalidArgumentsError)) throw error;
        // A task-augmented call must answer a task or an error: the JSON-RPC error carries the same words.
        if (legacyTask) throw new McpError(ErrorCode.InvalidParams, error.message);
        return errorResult(error.message);
      }
      if (legacyTask) return next(); // McpServer → registerToolTask's createTask → TemporalTaskStore.createTask
      const approvalId = await approvals.start(caller, name, args);
      const snapshot = await approvals.snapshot(caller, approvalId);
      if (extension) return { resultType: 'task', ...extensionTask(taskOf(snapshot)) };
      return outcomeResult({
        kind: 'pending',
        pending: { approvalId, status: snapshot.status, details: snapshot.details },
      });
    },
  });

  for (const tool of approvals.tools.values()) {
    mcp.experimental.tasks.registerToolTask(
      tool.name,
      {
        ...(tool.title && { title: tool.title }),
        description: tool.name === 'request_approval' ? REQUEST_APPROVAL_DESCRIPTION : tool.description,
        inputSchema: tool.inputSchema as z.ZodObject,
        execution: { taskSupport: 'optional' },
      },
      {
        createTask: async (_args, extra) => ({ task: await extra.taskStore.createTask({}) }),
        getTask: async (_args, extra) => (await store.getTask(extra.taskId)) ?? notFound(extra.taskId),
        getTaskResult: async (_args, extra) => (await store.getTaskResult(extra.taskId)) as CallToolResult,
      },
    );
  }

  mcp.registerTool(
    'get_approval',
    {
      description:
        'Where an approval stands (status and current details), and its outcome once it has ended. With wait (1 to ' +
        `${MAX_WAIT_SECONDS} seconds) it waits that long for the outcome first. For a gated tool (pay_invoice), the ` +
        "approved outcome is the tool's own result.",
      inputSchema: {
        ...ApprovalIdArgs,
        wait: z.number().int().min(0).max(MAX_WAIT_SECONDS).optional().describe('Seconds to wait for the outcome'),
      },
    },
    async ({ approvalId, wait }, extra) =>
      owned(async () => {
        const tool = approvals.toolOf(caller, approvalId);
        const outcome = await approvals.outcome(caller, approvalId, (wait ?? 0) * 1000, extra.signal);
        return approvals.toolResult(approvalId, tool, outcome);
      }),
  );

  mcp.registerTool(
    'cancel_approval',
    {
      description: 'Stop asking: the approval ends cancelled (the request disappears from the person’s device).',
      inputSchema: ApprovalIdArgs,
    },
    async ({ approvalId }) =>
      owned(async () => {
        const snapshot = await approvals.cancel(caller, approvalId);
        return jsonResult({ approvalId, status: snapshot.status, details: snapshot.details });
      }),
  );

  mcp.registerTool(
    'list_approvals',
    {
      description: 'Your approvals (only the ones you started), newest first.',
      inputSchema: {
        status: z.enum(LISTABLE_STATUSES).optional().describe('Only approvals with this status'),
        limit: z.number().int().min(1).max(100).optional().describe('At most this many (default 20)'),
      },
    },
    async ({ status, limit }) => {
      const listed = await approvals.list(caller, { limit: status ? 1000 : (limit ?? 20) });
      const chosen = listed.filter((a) => !status || a.status === status).slice(0, limit ?? 20);
      return jsonResult({ approvals: chosen });
    },
  );

  serveTasksExtension(mcp, store, approvals, caller);
  return mcp;
}

function notFound(taskId: string): never {
  throw new McpError(ErrorCode.InvalidParams, `Task not found: ${taskId}`);
}

async function owned(action: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof ApprovalNotFoundError) return errorResult(error.message);
    throw error;
  }
}

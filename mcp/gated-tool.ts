/**
 * `approvalGated`: wrap an MCP tool of yours so that each call first asks a person, and runs only once they approved.
 * The wrapped tool is a task backed by the approval workflow (mcp/task-store.ts), so it survives client timeouts and
 * server restarts; without task support the call answers at once with the approval's id, and `get_approval` (with
 * `wait`) returns the tool's result once approved.
 *
 *   server.register(approvalGated({
 *     name: 'pay_invoice',
 *     description: 'Pay an invoice, once the account holder approved it on their phone',
 *     inputSchema: InvoiceSchema,
 *     approvalRequest: (invoice) => ({ loginHint: invoice.payer, bindingMessage: `Pay ${invoice.number}`,
 *                                      authorizationDetails: [{ type: 'payment_initiation', ... }] }),
 *     run: async ({ tokens, request, requestId }) => jsonResult(await pay(tokens.accessToken, request, requestId)),
 *   }));
 *
 * `run` gets what the user approved (the approval request as the workflow got it, read back from Temporal), the tokens
 * (server-side only: never return them) and the approval's request id (its start seal's), the key to make the side
 * effect idempotent on: `run` may run more than once for one approval (each `tasks/result`, each `get_approval`), so
 * its side effect must be idempotent on that key. It does not get the call's arguments: act on what was approved.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import type { ApprovalRequest, ApprovalRequestInput, ApprovalResult } from '../common/approval';
import type { Caller } from './caller';

/** What an approved call's `run` gets. */
export interface ApprovedCall {
  approvalId: string;
  /** The request the user approved (as the approval workflow got it). */
  request: ApprovalRequest;
  /** The approval's request id (its start seal's): one side effect per approval. */
  requestId: string;
  /** The tokens: for the server's own calls, never for the model. */
  tokens: ApprovalResult;
}

export interface GatedTool<SCHEMA extends z.ZodType = z.ZodType> {
  name: string;
  title?: string;
  description: string;
  /** The tool's arguments (a zod object schema). */
  inputSchema: SCHEMA;
  /** The approval request for one call. Checked like every request (ApprovalRequestSchema, the provider profile). */
  approvalRequest: (args: z.output<SCHEMA>, caller: Caller) => ApprovalRequestInput;
  /** Runs once approved; its result is the tool's result. Absent: the result is the approval's outcome. */
  run?: (approved: ApprovedCall) => Promise<CallToolResult>;
}

/** Declares an approval-gated tool (typed); register it with `createMcpServer({ tools: [...] })`. */
export function approvalGated<SCHEMA extends z.ZodType>(tool: GatedTool<SCHEMA>): GatedTool {
  return tool as unknown as GatedTool;
}

/**
 * Hooks into `McpServer`'s tools/list and tools/call handlers, through the SDK's public `setRequestHandler` (wrapped
 * before any tool is registered, so the handlers `McpServer` installs pass through the hooks). Used for what the SDK
 * 1.32.2 does not do: answer a call of an approval tool at once without tasks (its 'optional' task tools block until
 * the task ends), serve the 2026-07-28 tasks extension, and list the contract's JSON Schema for `request_approval`.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { CallToolRequest, ListToolsResult, Result } from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';

export type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export interface ToolHooks {
  /** Answers a tools/call, or calls `next()` for McpServer's own handling. */
  call: (request: CallToolRequest, extra: Extra, next: () => Promise<Result>) => Promise<Result>;
  /** Rewrites the tools/list answer. */
  list: (result: ListToolsResult) => ListToolsResult;
}

/** Call before registering any tool. */
export function interceptTools(mcp: McpServer, hooks: ToolHooks): void {
  const server = mcp.server;
  const original = server.setRequestHandler.bind(server);
  type Handler = (request: never, extra: Extra) => unknown;
  const wrapped = (schema: unknown, handler: Handler): void => {
    const set = original as unknown as (schema: unknown, handler: Handler) => void;
    if (schema === CallToolRequestSchema) {
      const call = handler as unknown as (request: CallToolRequest, extra: Extra) => Promise<Result>;
      return set(schema, ((request: CallToolRequest, extra: Extra) =>
        hooks.call(request, extra, () => call(request, extra))) as unknown as Handler);
    }
    if (schema === ListToolsRequestSchema) {
      const list = handler as unknown as (request: unknown, extra: Extra) => Promise<ListToolsResult>;
      return set(schema, (async (request: unknown, extra: Extra) =>
        hooks.list(await list(request, extra))) as unknown as Handler);
    }
    return set(schema, handler);
  };
  server.setRequestHandler = wrapped as unknown as typeof server.setRequestHandler;
}

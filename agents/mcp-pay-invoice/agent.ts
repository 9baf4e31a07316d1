/**
 * An AI SDK agent whose tools come from the MCP server (mcp/http.ts) over Streamable HTTP: `@ai-sdk/mcp`'s client
 * lists the server's tools (pay_invoice, get_approval, ...) and `generateText` runs them. The AI SDK's MCP client
 * does not use MCP tasks, so a gated tool such as pay_invoice answers at once with the approval's id and status
 * `pending`; as the server's instructions (given to the model as the system prompt) say, the model then calls
 * get_approval with `wait` until the status is no longer pending, and for pay_invoice the approved outcome is the
 * payment receipt. The bearer token is the caller's (the MCP resource's audience, scope `mcp`); the approval's own
 * tokens never leave the server.
 */
import { experimental_createMCPClient } from '@ai-sdk/mcp';
import { generateText, isStepCount, type LanguageModel } from 'ai';

export interface McpAgentOptions {
  /** The MCP server's Streamable HTTP endpoint, e.g. http://127.0.0.1:8236/mcp. */
  mcpUrl: string;
  /** An access token for the MCP server (audience: its URL, scope `mcp`). */
  accessToken: string;
  model: LanguageModel;
  prompt: string;
  /** At most this many model steps (each get_approval wait is one); default 20. */
  maxSteps?: number;
}

export async function runMcpAgent(options: McpAgentOptions) {
  const client = await experimental_createMCPClient({
    transport: {
      type: 'http',
      url: options.mcpUrl,
      headers: { authorization: `Bearer ${options.accessToken}` },
    },
    // The server speaks initialize (MCP 2025-11-25); it does not serve the 2026 `server/discover` probe.
    protocolVersionDiscovery: false,
    clientName: 'ciba-mcp-pay-invoice-agent',
  });
  try {
    const tools = await client.tools();
    return await generateText({
      model: options.model,
      tools,
      ...(client.instructions && { system: client.instructions }),
      prompt: options.prompt,
      stopWhen: isStepCount(options.maxSteps ?? 20),
    });
  } finally {
    await client.close();
  }
}

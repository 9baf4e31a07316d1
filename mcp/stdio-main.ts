/**
 * `npm run mcp`: the MCP server on stdio, for the local user, against the configured stack (the `.env` that
 * `npm run ciba` reads). Logs go to stderr: stdout is the protocol.
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { ConfigError } from '../common/config';
import { localCaller } from './caller';
import { createMcpServer } from './server';
import { connectMcpApprovals } from './setup';

async function main(): Promise<void> {
  const { approvals } = await connectMcpApprovals();
  const caller = localCaller();
  const mcp = createMcpServer(approvals, caller);
  const transport = new StdioServerTransport();
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await mcp.close().catch(() => undefined);
    await approvals.client.close().catch(() => undefined);
    process.exit(0);
  };
  transport.onclose = () => void stop();
  process.stdin.once('end', () => void stop());
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  await mcp.connect(transport);
  console.error(`ciba mcp: stdio, task queue "${approvals.client.taskQueue}", as ${caller.label}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? `ciba mcp: ${error.message}` : error);
  process.exit(1);
});

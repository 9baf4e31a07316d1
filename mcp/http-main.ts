/**
 * `npm run mcp:http`: the MCP server over Streamable HTTP (mcp/http.ts), its access tokens from CIBA_MCP_ISSUER
 * (default CIBA_ISSUER: the local provider in `npm start`). Configuration: mcp/config.ts.
 */
import { ConfigError } from '../common/config';
import { McpAuth } from './auth';
import { MCP_PATH, startMcpHttp } from './http';
import { connectMcpApprovals } from './setup';

async function main(): Promise<void> {
  const { approvals, config } = await connectMcpApprovals();
  if (!config.issuer) throw new ConfigError('CIBA_MCP_ISSUER (or CIBA_ISSUER): the authorization server is required');
  const publicUrl = config.publicUrl ?? `http://${config.host}:${config.port}${MCP_PATH}`;
  const auth = new McpAuth({
    resource: publicUrl,
    issuer: config.issuer,
    jwksUrl: config.jwksUrl,
    extraAudiences: config.extraAudiences,
    requiredScopes: config.requiredScopes,
  });
  const running = await startMcpHttp(approvals, auth, { host: config.host, port: config.port });
  // With port 0 the public URL is only known now.
  if (!config.publicUrl && config.port === 0) auth.options.resource = running.url;
  console.error(
    `ciba mcp: listening on ${running.url} (resource ${auth.options.resource}, tokens from ${config.issuer}, ` +
      `metadata ${auth.metadataUrl}, task queue "${approvals.client.taskQueue}")`,
  );
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await running.close();
    await approvals.client.close().catch(() => undefined);
    console.error('ciba mcp: stopped');
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? `ciba mcp: ${error.message}` : error);
  process.exit(1);
});

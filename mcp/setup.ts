/** The MCP server's parts, from the environment: the approval client, ids, tools, provider profile. */
import { ApprovalClient } from '../client/approvals';
import { temporalSettings } from '../common/config';
import { PROVIDER_PROFILES } from '../common/provider-profile';
import { McpApprovalIds } from './approval-ids';
import { McpApprovals } from './approvals';
import { loadMcpConfig, type McpConfig } from './config';
import type { GatedTool } from './gated-tool';
import { payInvoiceTool } from './pay-invoice';
import { requestApprovalTool } from './request-schema';

export async function connectMcpApprovals(
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ approvals: McpApprovals; config: McpConfig }> {
  const settings = temporalSettings(env);
  const config = loadMcpConfig(settings, env);
  const client = await ApprovalClient.connect(settings);
  const tools: GatedTool[] = [requestApprovalTool];
  if (config.paymentsApiUrl) {
    tools.push(payInvoiceTool({ paymentsApiUrl: config.paymentsApiUrl, profile: settings.providerProfile }));
  }
  const profile = settings.providerProfile ? PROVIDER_PROFILES[settings.providerProfile] : undefined;
  return { approvals: new McpApprovals(client, new McpApprovalIds(config.idSecret), tools, profile), config };
}

/**
 * `npm run agent -- "Pay invoice INV-1001: 50.00 USD to ExampleCorp"`: asks the pay-invoice agent (its worker runs in
 * `npm start`, or `npm run agent:worker`) and prints its answer. The agent asks the user (default Alice) to approve
 * the payment on their device first: approve or deny it on the device page (locally http://127.0.0.1:3000/device).
 *
 *   npm run agent -- [--login-hint bob@example.com] [--requested-expiry SECONDS] "what to pay"
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { connectTemporalClient, newStartSeal } from '../../client/approvals';
import { temporalSettings } from '../../common/config';
import { payInvoiceAgent } from './workflows';
import { agentTaskQueue } from './worker';

export const EXAMPLE_PROMPT = 'Pay invoice INV-1001: 50.00 USD to ExampleCorp';

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      'login-hint': { type: 'string', default: 'alice@example.com' },
      'requested-expiry': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const prompt = positionals.join(' ').trim() || EXAMPLE_PROMPT;
  const settings = temporalSettings();
  const client = await connectTemporalClient(settings);
  try {
    const workflowId = `pay-invoice-agent-${randomUUID()}`;
    const handle = await client.workflow.start(payInvoiceAgent, {
      workflowId,
      taskQueue: agentTaskQueue(),
      args: [
        {
          prompt,
          loginHint: values['login-hint'],
          seal: newStartSeal(workflowId),
          approvalTaskQueue: settings.taskQueue,
          providerProfile: settings.providerProfile,
          approval: values['requested-expiry'] ? { requestedExpiry: Number(values['requested-expiry']) } : undefined,
        },
      ],
      staticSummary: 'pay-invoice agent',
    });
    console.error(`started ${workflowId} on task queue "${agentTaskQueue()}": "${prompt}"`);
    console.error(
      `When the agent calls payInvoice, ${values['login-hint']} is asked to approve: approve or deny it on the ` +
        `device page (npm start prints its URL; locally http://127.0.0.1:3000/device).`,
    );
    const result = await handle.result();
    if (values.json) console.log(JSON.stringify(result, null, 2));
    else console.log(result.text);
    // 0 whenever the agent ran to its answer, paid or not: a refusal (denied, expired, ...) is an outcome the agent
    // handled and the model explained, not a failure of the agent (the Python sample agent exits the same way). A run
    // that itself failed (the workflow failed, no connection) throws, and exits 1.
    return 0;
  } finally {
    await client.connection.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);

/**
 * `npm run demo`: the sample agent end to end. Starts the payment agent workflow ("pay 50.00 USD to ExampleCorp"),
 * which asks Alice to approve on her device, then executes the payment with the approved access token.
 *
 *   npm run demo [-- --login-hint bob@example.com --amount 12.50 --currency EUR --creditor "Example GmbH"]
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { WorkflowFailedError } from '@temporalio/client';
import { connectTemporalClient, newStartSeal } from './approvals';
import { ChildWorkflowFailure } from '@temporalio/common';
import { temporalSettings } from '../common/config';
import { paymentAgent } from '../workflows/payment-agent';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      'login-hint': { type: 'string', default: 'alice@example.com' },
      amount: { type: 'string', default: '50.00' },
      currency: { type: 'string', default: 'USD' },
      creditor: { type: 'string', default: 'ExampleCorp' },
    },
  });
  const settings = temporalSettings();
  if (!settings.agentTaskQueue) {
    console.error('CIBA_AGENT_TASK_QUEUE is off: no worker runs the sample agent');
    return 1;
  }
  const client = await connectTemporalClient(settings);
  const workflowId = `payment-agent-${randomUUID()}`;
  const handle = await client.workflow.start(paymentAgent, {
    workflowId,
    // The sample agent's own Worker (worker/worker.ts); its approval runs on the approval workers' task queue.
    taskQueue: settings.agentTaskQueue,
    args: [
      {
        approvalTaskQueue: settings.taskQueue,
        loginHint: values['login-hint'],
        payment: { amount: values.amount, currency: values.currency, creditorName: values.creditor },
        providerProfile: settings.providerProfile,
        seal: newStartSeal(workflowId),
      },
    ],
  });
  console.log(
    `started ${workflowId}: ${values['login-hint']} is asked to approve paying ${values.amount} ${values.currency} to ${values.creditor}.`,
  );
  console.log(
    `Approve or deny it on the device page (npm start prints its URL; locally http://127.0.0.1:3000/device).`,
  );
  try {
    const result = await handle.result();
    console.log(`payment executed: ${JSON.stringify(result)}`);
    return 0;
  } catch (error) {
    const cause = error instanceof WorkflowFailedError ? error.cause : undefined;
    const approval = cause instanceof ChildWorkflowFailure ? cause.cause : cause;
    console.error(`no payment: ${approval?.message ?? (error as Error).message}`);
    return 1;
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

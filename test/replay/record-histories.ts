/**
 * `npm run record:histories`: runs every path of the approval workflow on a real local stack (Temporal dev server,
 * local provider, a worker process) and saves each run's history (protobuf binary) as a fixture for test/replay.test.ts,
 * in a new generation folder (test/replay/histories-<today>; fixtures.ts). Earlier generations stay: the current code
 * must keep replaying what every earlier version wrote.
 *
 * Record a new generation when workflow code changes behind a patch (so the patched path has a history of its own). The
 * fixtures' payloads are encrypted with FIXTURE_PAYLOAD_KEY, a public test key.
 */
import { newStartSeal } from '../../client/approvals';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import type { ApprovalRequestInput } from '../../common/approval';
import { startTemporalDevServer } from '../../devstack/temporal-server';
import { REPO_ROOT } from '../../devstack/ts-process';
import { paymentAgent } from '../../workflows/payment-agent';
import { isPending, waitForApprovalState } from '../support/approvals';
import {
  connectClient,
  Device,
  providerLog,
  rawClient,
  sleep,
  stackEnv,
  startProvider,
  startWorker,
  TEST_LOG_DIR,
  agentQueues,
  WITH_SAMPLE_AGENT,
} from '../support/stack';
import { FIXTURE_PAYLOAD_KEY, generationDirFor } from './fixtures';

async function main(): Promise<void> {
  const temporal = await startTemporalDevServer({
    port: 0,
    headless: true,
    dbFile: false,
    repoRoot: REPO_ROOT,
    logFile: path.join(TEST_LOG_DIR, 'record-temporal.log'),
  });
  const provider = await startProvider();
  const env = stackEnv(
    'record-histories',
    { CIBA_PAYLOAD_KEY: FIXTURE_PAYLOAD_KEY, ...WITH_SAMPLE_AGENT },
    {
      temporalAddress: temporal.address,
      issuer: provider.issuer,
      payloadKey: FIXTURE_PAYLOAD_KEY,
    },
  );
  const worker = await startWorker(env, 'record-worker');
  const approvals = await connectClient(env);
  const client = await rawClient(env);
  const device = new Device(provider.issuer);
  const FIXTURE_DIR = generationDirFor(new Date());
  mkdirSync(FIXTURE_DIR, { recursive: true }); // a new folder: earlier generations are never recorded over

  const request = (name: string, extra: Partial<ApprovalRequestInput> = {}): ApprovalRequestInput => ({
    loginHint: 'alice@example.com',
    bindingMessage: `Replay ${name}`,
    authorizationDetails: [
      {
        type: 'payment_initiation',
        instructedAmount: { currency: 'USD', amount: '1.00' },
        creditorName: 'ExampleCorp',
      },
    ],
    ...extra,
  });
  const index: Array<{ file: string; workflowId: string }> = [];
  const record = async (name: string, workflowId: string) => {
    for (const file of await saveRuns(client, FIXTURE_DIR, name, workflowId)) index.push({ file, workflowId });
    console.error(`recorded ${name}`);
  };
  const settle = (workflowId: string) => approvals.result(workflowId).catch(() => undefined);

  try {
    {
      const { workflowId } = await approvals.start(request('approve'), { key: 'replay-approve' });
      const { authReqId } = await waitForApprovalState(client, workflowId, (s) => isPending(s) && s.polls >= 1);
      await device.decide(authReqId!, 'approve');
      await settle(workflowId);
      await record('approve', workflowId);
    }
    {
      const { workflowId } = await approvals.start(request('deny'), { key: 'replay-deny' });
      const { authReqId } = await waitForApprovalState(client, workflowId, isPending);
      await device.decide(authReqId!, 'deny');
      await settle(workflowId);
      await record('deny', workflowId);
    }
    {
      const { workflowId } = await approvals.start(
        request('expire', { requestedExpiry: 10, askAgain: { maxAsks: 1 } }),
        { key: 'replay-expire' },
      );
      await settle(workflowId);
      await record('expire', workflowId);
    }
    {
      const { workflowId } = await approvals.start(request('slow down'), { key: 'replay-slow-down' });
      const { authReqId } = await waitForApprovalState(client, workflowId, (s) => isPending(s) && s.polls >= 1);
      await fetch(`${provider.issuer}/dev/requests/${authReqId}/slow-down`, { method: 'POST' });
      await waitForApprovalState(client, workflowId, (s) => s.slowDowns === 1 && s.polls >= 3, 60_000);
      await device.decide(authReqId!, 'approve');
      await settle(workflowId);
      await record('slow-down', workflowId);
    }
    {
      const { workflowId } = await approvals.start(
        request('ask again', { requestedExpiry: 10, askAgain: { maxAsks: 3, delayBetweenAsks: 5 } }),
        {
          key: 'replay-ask-again',
        },
      );
      const { authReqId } = await waitForApprovalState(client, workflowId, (s) => s.asks.length === 2 && isPending(s));
      await device.decide(authReqId!, 'approve');
      await settle(workflowId);
      await record('ask-again', workflowId);
    }
    {
      const { workflowId } = await approvals.start(request('continue as new', { continueAsNewAfterEvents: 30 }), {
        key: 'replay-continue-as-new',
      });
      const { authReqId } = await waitForApprovalState(
        client,
        workflowId,
        (s) => isPending(s) && s.continuedAsNew >= 2,
        60_000,
      );
      await device.decide(authReqId!, 'approve');
      await settle(workflowId);
      await record('continue-as-new', workflowId);
    }
    {
      // Compact polling (the fast tier's activity, patch compact-heartbeat-tiers), decided within the fast tier.
      const { workflowId } = await approvals.start(request('compact', { pollingMode: 'compact' }), {
        key: 'replay-compact-approve',
      });
      // The polls run inside the activity (the workflow learns of them when it ends): wait for one at the provider.
      const { authReqId } = await waitForApprovalState(client, workflowId, isPending);
      await waitForTokenPoll(provider.issuer, authReqId!);
      await device.decide(authReqId!, 'approve');
      await settle(workflowId);
      await record('compact-approve', workflowId);
    }
    {
      const { workflowId } = await approvals.start(request('cancel'), { key: 'replay-cancel' });
      await waitForApprovalState(client, workflowId, (s) => isPending(s) && s.polls >= 1);
      await approvals.cancel(workflowId);
      await settle(workflowId);
      await record('cancel', workflowId);
    }
    {
      const { workflowId } = await approvals.start(request('unknown user', { loginHint: 'mallory@example.com' }), {
        key: 'replay-provider-error',
      });
      await settle(workflowId);
      await record('provider-error', workflowId);
    }
    {
      const handle = await client.workflow.start(paymentAgent, {
        workflowId: 'replay-payment-agent',
        taskQueue: agentQueues(env).taskQueue,
        args: [
          {
            approvalTaskQueue: agentQueues(env).approvalTaskQueue,
            loginHint: 'bob@example.com',
            payment: { amount: '50.00', currency: 'USD', creditorName: 'ExampleCorp' },
            seal: newStartSeal('replay-payment-agent'),
          },
        ],
      });
      const approvalId = 'replay-payment-agent/approval/payment';
      const { authReqId } = await waitForApprovalState(client, approvalId, isPending);
      await device.decide(authReqId!, 'approve');
      await handle.result();
      await record('payment-agent', handle.workflowId);
      await record('payment-agent-approval', approvalId);
    }
    writeFileSync(path.join(FIXTURE_DIR, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
    const initiations = (await providerLog(provider.issuer)).filter((e) => e.endpoint === 'bc-authorize').length;
    console.error(
      `done: ${initiations} backchannel requests at the provider; fixtures in ${path.relative(REPO_ROOT, FIXTURE_DIR)}`,
    );
  } finally {
    await approvals.close();
    await client.connection.close();
    await worker.kill('SIGTERM');
    await provider.kill('SIGTERM');
    await temporal.stop();
  }
}

/** Waits until the provider has answered a token poll for this request (its request log). */
async function waitForTokenPoll(issuer: string, authReqId: string): Promise<void> {
  for (;;) {
    const log = await providerLog(issuer);
    if (log.some((e) => e.endpoint === 'token' && e.authReqId === authReqId)) return;
    await sleep(500);
  }
}

/** Saves every run of the workflow (continue-as-new chains included), oldest first; returns the file names. */
async function saveRuns(client: Client, dir: string, name: string, workflowId: string): Promise<string[]> {
  await sleep(500); // visibility catches up
  const runs: string[] = [];
  for await (const execution of client.workflow.list({ query: `WorkflowId = '${workflowId}'` }))
    runs.push(execution.runId);
  runs.reverse();
  const files: string[] = [];
  for (const [i, runId] of runs.entries()) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const file = runs.length === 1 ? `${name}.binpb` : `${name}.run${i + 1}.binpb`;
    writeFileSync(path.join(dir, file), proto.api.history.v1.History.encode(history).finish());
    files.push(file);
  }
  return files;
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);

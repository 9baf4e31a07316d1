/**
 * Durability on the real stack: an approval that waits survives a worker killed with SIGKILL, and a Temporal
 * server killed and restarted on the same database file.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitForTemporal } from '../devstack/temporal-frontend';
import { startTemporalDevServer } from '../devstack/temporal-server';
import { REPO_ROOT } from '../devstack/ts-process';
import { isPending, waitForApprovalState } from './support/approvals';
import {
  connectClient,
  Device,
  providerLog,
  rawClient,
  sharedStack,
  sleep,
  stackEnv,
  startWorker,
  TEST_LOG_DIR,
  uniqueBindingMessage,
  uniqueTaskQueue,
} from './support/stack';
import { HANG_DETECTOR_MS } from './support/wait';
import { startWorkerWithClients, stopWorkerWithClients } from './support/worker-fixture';

// Above the hang detectors of the waits a test makes in a row (servers and workers started and killed).
jest.setTimeout(3 * HANG_DETECTOR_MS);

const stack = sharedStack();
const device = new Device(stack.issuer);

it('an approval survives a worker killed with SIGKILL while it waits, and the provider sees exactly one request', async () => {
  const workerAndClients = await startWorkerWithClients(stackEnv(uniqueTaskQueue('sigkill')), 'worker-before-kill');
  const { approvals, temporal } = workerAndClients;
  try {
    const bindingMessage = uniqueBindingMessage('Survive SIGKILL');
    const { workflowId } = await approvals.start({ loginHint: 'alice@example.com', bindingMessage });
    const { authReqId } = await waitForApprovalState(temporal, workflowId, (s) => isPending(s) && s.polls >= 1);

    await workerAndClients.worker.kill('SIGKILL');
    expect(workerAndClients.worker.child.signalCode).toBe('SIGKILL');
    workerAndClients.worker = await startWorker(workerAndClients.env, 'worker-after-kill');

    await device.decide(authReqId!, 'approve');
    const result = await approvals.result(workflowId);
    expect(result.accessToken).toEqual(expect.any(String));

    const initiations = (await providerLog(stack.issuer, { bindingMessage })).filter(
      (e) => e.endpoint === 'bc-authorize',
    );
    expect(initiations).toHaveLength(1);
    const redemptions = (await providerLog(stack.issuer, { authReqId })).filter(
      (e) => e.endpoint === 'token' && e.status === 200,
    );
    expect(redemptions).toHaveLength(1);
  } finally {
    await stopWorkerWithClients(workerAndClients);
  }
});

it('an approval survives the Temporal server killed and restarted on the same database file', async () => {
  const dbFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'ciba-temporal-')), 'restart.sqlite');
  const serverOptions = {
    headless: true,
    dbFile,
    repoRoot: REPO_ROOT,
    logFile: path.join(TEST_LOG_DIR, `temporal-restart-${Date.now()}.log`),
  };
  let server = await startTemporalDevServer({ ...serverOptions, port: 0 });
  const port = Number(server.address.split(':').pop());
  const env = stackEnv(uniqueTaskQueue('restart'), { TEMPORAL_ADDRESS: server.address });
  const worker = await startWorker(env, 'worker-server-restart');
  try {
    const bindingMessage = uniqueBindingMessage('Survive restart');
    let approvals = await connectClient(env);
    let temporal = await rawClient(env);
    const { workflowId } = await approvals.start({ loginHint: 'bob@example.com', bindingMessage });
    const { authReqId } = await waitForApprovalState(temporal, workflowId, (s) => isPending(s) && s.polls >= 1);
    // A client already waiting for the result waits through the outage (ApprovalClient.result retries it).
    const waitingClient = await connectClient(env);
    const waiting = waitingClient.result(workflowId).then(
      (result) => ({ result }),
      (error: unknown) => ({ error }),
    );
    await approvals.close();
    await temporal.connection.close();

    await server.kill('SIGKILL');
    // The approval's timers and polls fall due while the server is down, and the waiting client's long poll outlasts
    // the SDK's own retries (~20 s).
    await sleep(30_000);
    server = await startTemporalDevServer({ ...serverOptions, port });
    await waitForTemporal(server.address, 'default', HANG_DETECTOR_MS);

    await device.decide(authReqId!, 'approve');
    approvals = await connectClient(env);
    temporal = await rawClient(env);
    try {
      const result = await approvals.result(workflowId);
      expect(result.accessToken).toEqual(expect.any(String));
      const initiations = (await providerLog(stack.issuer, { bindingMessage })).filter(
        (e) => e.endpoint === 'bc-authorize',
      );
      expect(initiations).toHaveLength(1);
      const waited = await waiting;
      expect(waited).toEqual({ result: expect.objectContaining({ accessToken: result.accessToken }) });
    } finally {
      await approvals.close();
      await temporal.connection.close();
      await waitingClient.close();
    }
  } finally {
    await worker.kill('SIGTERM');
    await server.stop();
  }
});

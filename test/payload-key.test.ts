/**
 * Who can start approvals, and what happens when keys do not match (real stack: dev server, provider, worker
 * processes, the `temporal` CLI and the `ciba` CLI).
 *
 * - Only holders of the payload key can ask: a workflow started with plaintext input (a Temporal client without the
 *   codec, or `temporal workflow start --input`) ends at once PayloadNotEncrypted, and the provider never sees a
 *   backchannel request for it.
 * - An approval started with another key ends PayloadKeyMismatch instead of retrying its first workflow task
 *   forever; ApprovalClient and the CLI name both key ids.
 * - A client whose key cannot read an approval's payloads gets a typed error naming both key ids, not a crypto error.
 * - Rotation: payloads written with the old key are read after the key changed.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { Client, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { temporal as proto } from '@temporalio/proto';
import { ApprovalFailedError, ApprovalKeyMismatchError, type ApprovalClient } from '../client/approvals';
import { ApprovalFailureType } from '../common/outcomes';
import { paymentBindingMessage, type Payment } from '../common/payment';
import { findTemporalCli } from '../devstack/temporal-cli';
import { runCiba } from './support/ciba-cli';
import { isPending, waitForApprovalState } from './support/approvals';
import {
  connectClient,
  Device,
  newPayloadKey,
  providerLog,
  sharedStack,
  sleep,
  stackEnv,
  startWorker,
  uniqueBindingMessage,
  uniqueTaskQueue,
  agentQueues,
  WITH_SAMPLE_AGENT,
} from './support/stack';
import { HANG_DETECTOR_MS } from './support/wait';
import { useWorkerFixture } from './support/worker-fixture';

// Above the hang detectors of the waits a test makes in a row (workers started and stopped).
jest.setTimeout(3 * HANG_DETECTOR_MS);

const execFileAsync = promisify(execFile);
const stack = sharedStack();
const device = new Device(stack.issuer);
const fixture = useWorkerFixture('payload-key', WITH_SAMPLE_AGENT);

/** The key id the spec derives from a key: `k-` + the first 8 bytes of SHA-256 of the key, in hex. */
const keyIdOf = (base64Key: string) =>
  `k-${createHash('sha256').update(Buffer.from(base64Key, 'base64')).digest().subarray(0, 8).toString('hex')}`;

/** A client configuration like the worker's, but with another payload key. */
const otherKey = newPayloadKey();
const otherEnv = { ...fixture.env, CIBA_PAYLOAD_KEY: otherKey };
let other: ApprovalClient;
/** A Temporal client with no payload codec: what anyone who can reach the namespace has. */
let plain: Client;

beforeAll(async () => {
  other = await connectClient(otherEnv);
  plain = new Client({ connection: fixture.temporal.connection, namespace: 'default' });
});
afterAll(async () => {
  await other?.close();
});

/** Waits until the workflow is no longer running; fails the test if it still runs after the hang detector. */
async function waitClosed(handle: WorkflowHandle, timeoutMs = HANG_DETECTOR_MS): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let status = 'UNKNOWN';
  while (Date.now() < deadline) {
    status = (await handle.describe()).status.name;
    if (status !== 'RUNNING') return status;
    await sleep(250);
  }
  const initiations = await providerLog(stack.issuer);
  throw new Error(
    `${handle.workflowId} still ${status} after ${timeoutMs} ms (provider saw ${initiations.filter((e) => e.endpoint === 'bc-authorize').length} backchannel requests in all)`,
  );
}

/** The ApplicationFailure a closed workflow failed with (read without the codec: failures carry no payloads here). */
async function failureOf(handle: WorkflowHandle): Promise<ApplicationFailure> {
  const error = await handle.result().then(
    () => {
      throw new Error(`expected ${handle.workflowId} to fail`);
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WorkflowFailedError);
  const cause = (error as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return cause as ApplicationFailure;
}

async function backchannelRequests(bindingMessage: string) {
  return (await providerLog(stack.issuer, { bindingMessage })).filter((e) => e.endpoint === 'bc-authorize');
}

/** The `ciba` CLI as a user runs it, with `env`. */
const ciba = runCiba;

/** The key ids in the metadata of every payload of a workflow's history, in order. */
async function historyKeyIds(workflowId: string): Promise<string[]> {
  const history = await fixture.temporal.workflow.getHandle(workflowId).fetchHistory();
  const ids: string[] = [];
  const visit = (value: unknown): void => {
    if (!value || typeof value !== 'object') return;
    if (value instanceof Uint8Array) return;
    const metadata = (value as { metadata?: Record<string, Uint8Array> }).metadata;
    if (metadata && metadata['encryption-key-id'] && 'data' in (value as object)) {
      ids.push(Buffer.from(metadata['encryption-key-id']).toString());
      return;
    }
    for (const child of Object.values(value)) visit(child);
  };
  for (const event of history.events ?? [])
    visit(proto.api.history.v1.HistoryEvent.toObject(event as proto.api.history.v1.HistoryEvent, { defaults: false }));
  return ids;
}

describe('only holders of the payload key can start approvals', () => {
  it('a cibaApproval started with plaintext input ends PayloadNotEncrypted, and the provider never hears of it', async () => {
    const bindingMessage = uniqueBindingMessage('Plaintext start');
    const handle = await plain.workflow.start('cibaApproval', {
      workflowId: `plaintext-${Date.now()}`,
      taskQueue: fixture.env.CIBA_TASK_QUEUE!,
      args: [{ loginHint: 'bob@example.com', bindingMessage }],
    });
    expect(await waitClosed(handle)).toBe('FAILED');
    const failure = await failureOf(handle);
    expect(failure.type).toBe(ApprovalFailureType.PayloadNotEncrypted);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.details ?? []).toEqual([]);
    expect(failure.message).toMatch(/not encrypted/);
    expect(await backchannelRequests(bindingMessage)).toEqual([]);

    // A key holder asking for its status learns why, in the report.
    const report = await fixture.approvals.status(handle.workflowId);
    expect(report).toMatchObject({
      execution: 'FAILED',
      failure: {
        type: ApprovalFailureType.PayloadNotEncrypted,
        message: expect.stringMatching(/^the input is not encrypted with the payload key/),
      },
    });
  });

  it('`temporal workflow start --input` of the sample paymentAgent ends PayloadNotEncrypted, without a backchannel request', async () => {
    const cli = await findTemporalCli();
    expect(cli).toBeDefined();
    const payment: Payment = { amount: '1.00', currency: 'USD', creditorName: `Mallory ${Date.now()}` };
    const workflowId = `plaintext-agent-${Date.now()}`;
    await execFileAsync(cli!, [
      'workflow',
      'start',
      '--address',
      stack.temporalAddress,
      '--namespace',
      'default',
      '--type',
      'paymentAgent',
      '--task-queue',
      agentQueues(fixture.env).taskQueue,
      '--workflow-id',
      workflowId,
      '--input',
      JSON.stringify({ loginHint: 'bob@example.com', payment }),
    ]);
    const handle = plain.workflow.getHandle(workflowId);
    expect(await waitClosed(handle)).toBe('FAILED');
    const failure = await failureOf(handle);
    expect(failure.type).toBe(ApprovalFailureType.PayloadNotEncrypted);
    expect(await backchannelRequests(paymentBindingMessage(payment))).toEqual([]);
  });

  it('the codec-less `temporal workflow start` with a bindingMessage-only input does not reach the provider either', async () => {
    const cli = await findTemporalCli();
    const bindingMessage = uniqueBindingMessage('CLI plaintext');
    const workflowId = `plaintext-cli-${Date.now()}`;
    await execFileAsync(cli!, [
      'workflow',
      'start',
      '--address',
      stack.temporalAddress,
      '--type',
      'cibaApproval',
      '--task-queue',
      fixture.env.CIBA_TASK_QUEUE!,
      '--workflow-id',
      workflowId,
      '--input',
      JSON.stringify({ loginHint: 'bob@example.com', bindingMessage }),
    ]);
    const handle = plain.workflow.getHandle(workflowId);
    expect(await waitClosed(handle)).toBe('FAILED');
    expect((await failureOf(handle)).type).toBe(ApprovalFailureType.PayloadNotEncrypted);
    expect(await backchannelRequests(bindingMessage)).toEqual([]);
  });
});

describe('a payload key mismatch is reported, never a silent hang', () => {
  const workerKeyId = keyIdOf(stack.payloadKey);
  const otherKeyId = keyIdOf(otherKey);

  it('an approval started with another key ends PayloadKeyMismatch; ApprovalClient and the CLI name both key ids', async () => {
    const bindingMessage = uniqueBindingMessage('Wrong key');
    const { workflowId } = await other.start({ loginHint: 'bob@example.com', bindingMessage });
    const handle = plain.workflow.getHandle(workflowId);
    expect(await waitClosed(handle)).toBe('FAILED');
    const failure = await failureOf(handle);
    expect(failure.type).toBe(ApprovalFailureType.PayloadKeyMismatch);
    expect(failure.details ?? []).toEqual([]);
    expect(failure.message).toContain(`encrypted with key ${otherKeyId}`);
    expect(failure.message).toContain(`this worker has ${workerKeyId}`);
    expect(await backchannelRequests(bindingMessage)).toEqual([]);

    for (const client of [other, fixture.approvals]) {
      const result = await client.result(workflowId).catch((e: unknown) => e);
      expect(result).toBeInstanceOf(ApprovalKeyMismatchError);
      expect(result).toBeInstanceOf(ApprovalFailedError);
      expect(result).toMatchObject({
        type: ApprovalFailureType.PayloadKeyMismatch,
        unreadableBy: 'worker',
        workflowId,
      });
      expect((result as Error).message).toContain(otherKeyId);
      expect((result as Error).message).toContain(workerKeyId);
      const status = await client.status(workflowId).catch((e: unknown) => e);
      expect(status).toBeInstanceOf(ApprovalKeyMismatchError);
      expect((status as Error).message).toContain(otherKeyId);
    }

    for (const command of ['wait', 'status']) {
      const out = await ciba(otherEnv, command, workflowId);
      expect(out.code).not.toBe(0);
      const lines = out.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/payload key mismatch/);
      expect(lines[0]).toContain(otherKeyId);
      expect(lines[0]).toContain(workerKeyId);
    }
  });

  it('a client whose key cannot read an approval gets a typed error naming both ids, from status, result and the CLI', async () => {
    const bindingMessage = uniqueBindingMessage('Reader key');
    const { workflowId } = await fixture.approvals.start({ loginHint: 'alice@example.com', bindingMessage });
    const { authReqId } = await waitForApprovalState(fixture.temporal, workflowId, isPending);

    const status = await other.status(workflowId).catch((e: unknown) => e);
    expect(status).toBeInstanceOf(ApprovalKeyMismatchError);
    expect(status).toMatchObject({ unreadableBy: 'client', payloadKeyId: workerKeyId, clientKeyIds: [otherKeyId] });
    expect((status as Error).message).toMatch(/payload key mismatch/);
    const statusCli = await ciba(otherEnv, 'status', workflowId);
    expect(statusCli.code).not.toBe(0);
    expect(statusCli.stderr.trim().split('\n')).toHaveLength(1);
    expect(statusCli.stderr).toContain(`key ${workerKeyId}`);
    expect(statusCli.stderr).toContain(otherKeyId);

    await device.decide(authReqId!, 'approve');
    expect((await fixture.approvals.result(workflowId)).accessToken).toEqual(expect.any(String));
    const result = await other.result(workflowId).catch((e: unknown) => e);
    expect(result).toBeInstanceOf(ApprovalKeyMismatchError);
    expect(result).toMatchObject({ unreadableBy: 'client', payloadKeyId: workerKeyId });
    const waitCli = await ciba(otherEnv, 'wait', workflowId);
    expect(waitCli.code).not.toBe(0);
    expect(waitCli.stderr.trim().split('\n')).toHaveLength(1);
    expect(waitCli.stderr).toMatch(/payload key mismatch/);
    expect(waitCli.stdout).not.toContain('eyJ');
  });
});

describe('key rotation', () => {
  it('an approval started under the old key finishes under the new one (old key as a plain base64 previous key)', async () => {
    const oldEnv = stackEnv(uniqueTaskQueue('rotation'));
    const newKey = newPayloadKey();
    const newEnv = { ...oldEnv, CIBA_PAYLOAD_KEY: newKey, CIBA_PAYLOAD_PREVIOUS_KEYS: oldEnv.CIBA_PAYLOAD_KEY! };
    const oldWorker = await startWorker(oldEnv, 'worker-rotation-old');
    const oldClient = await connectClient(oldEnv);
    let newWorker: Awaited<ReturnType<typeof startWorker>> | undefined;
    const newClient = await connectClient(newEnv);
    try {
      const { workflowId } = await oldClient.start({
        loginHint: 'alice@example.com',
        bindingMessage: uniqueBindingMessage('Rotation'),
      });
      const { authReqId } = await waitForApprovalState(fixture.temporal, workflowId, isPending);
      await oldWorker.kill('SIGTERM');
      newWorker = await startWorker(newEnv, 'worker-rotation-new');

      // The new worker replays what the old key wrote, and the new client reads it too.
      expect((await newClient.status(workflowId)).approval).toMatchObject({ status: 'pending', authReqId });
      await device.decide(authReqId!, 'approve');
      expect((await newClient.result(workflowId)).accessToken).toEqual(expect.any(String));

      const ids = await historyKeyIds(workflowId);
      expect(ids[0]).toBe(keyIdOf(oldEnv.CIBA_PAYLOAD_KEY!)); // the start input
      expect(ids[ids.length - 1]).toBe(keyIdOf(newKey)); // the result
      // A client that still has only the old key cannot read the result: told so, by key id.
      const stale = await oldClient.result(workflowId).catch((e: unknown) => e);
      expect(stale).toMatchObject({ unreadableBy: 'client', payloadKeyId: keyIdOf(newKey) });
    } finally {
      await oldClient.close();
      await newClient.close();
      await oldWorker.kill('SIGTERM');
      await newWorker?.kill('SIGTERM');
    }
  });
});

describe('a worker without the key of a running approval', () => {
  it('does not end it: it fails its workflow tasks (Temporal retries them) until a worker with the key takes over', async () => {
    const env = stackEnv(uniqueTaskQueue('lost-key'));
    const keyed = await startWorker(env, 'worker-lost-key-keyed');
    const client = await connectClient(env);
    let keyless: Awaited<ReturnType<typeof startWorker>> | undefined;
    let again: Awaited<ReturnType<typeof startWorker>> | undefined;
    try {
      const { workflowId } = await client.start({
        loginHint: 'alice@example.com',
        bindingMessage: uniqueBindingMessage('Lost key'),
      });
      const { authReqId } = await waitForApprovalState(fixture.temporal, workflowId, isPending);
      await keyed.kill('SIGTERM');
      // A worker with only another key (a rotation done without CIBA_PAYLOAD_PREVIOUS_KEYS) replays the history.
      keyless = await startWorker({ ...env, CIBA_PAYLOAD_KEY: newPayloadKey() }, 'worker-lost-key-keyless');
      const handle = fixture.temporal.workflow.getHandle(workflowId);
      const deadline = Date.now() + HANG_DETECTOR_MS;
      let failedTasks = 0;
      while (Date.now() < deadline && failedTasks === 0) {
        const history = await handle.fetchHistory();
        failedTasks = (history.events ?? []).filter((e) => e.workflowTaskFailedEventAttributes).length;
        if (!failedTasks) await sleep(250);
      }
      expect(failedTasks).toBeGreaterThan(0);
      expect((await handle.describe()).status.name).toBe('RUNNING');
      await keyless.kill('SIGTERM');

      again = await startWorker(env, 'worker-lost-key-again');
      await device.decide(authReqId!, 'approve');
      expect((await client.result(workflowId)).accessToken).toEqual(expect.any(String));
    } finally {
      await client.close();
      await keyed.kill('SIGTERM');
      await keyless?.kill('SIGTERM');
      await again?.kill('SIGTERM');
    }
  });
});

it('ids the key from the key itself: every payload the worker writes names it', async () => {
  const { workflowId } = await fixture.approvals.start({
    loginHint: 'alice@example.com',
    bindingMessage: uniqueBindingMessage('Key id'),
  });
  await waitForApprovalState(fixture.temporal, workflowId, isPending);
  await fixture.approvals.cancel(workflowId);
  await waitClosed(plain.workflow.getHandle(workflowId));
  const ids = await historyKeyIds(workflowId);
  expect(ids.length).toBeGreaterThan(2);
  expect(new Set(ids)).toEqual(new Set([keyIdOf(stack.payloadKey)]));
});

/**
 * A rolling upgrade with Worker Versioning (docs/deploys.md), on a Temporal dev server of its own and the real local
 * provider. Approvals (timer and compact polling) wait on build A, the real worker (worker/main.ts). Build B, a team's
 * worker through withApprovals whose approval differs behind two patches (test/rolling-upgrade/workflows-b.ts), starts
 * and is made current; A drains and stops. The device then decides: every waiting approval ends as decided, on B,
 * without a second ask; new approvals run on B; the histories recorded on A replay on B's code. Then the rollback, as
 * docs/deploys.md gives it: A's workers again, the open runs that took one of B's patches pinned to B, A current; an
 * approval that waited through B without taking a patch ends on A, the pinned one on B, and B drains. The deployment
 * is driven with the `temporal` commands the docs give.
 */
import path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import type { ApprovalClient } from '../client/approvals';
import type { ApprovalRequestInput } from '../common/approval';
import { temporalSettings, workerDataConverter } from '../common/config';
import { findTemporalCli } from '../devstack/temporal-cli';
import { startTemporalDevServer, type RunningTemporal } from '../devstack/temporal-server';
import { startTsProcess, type ManagedProcess } from '../devstack/ts-process';
import { workerInterceptors } from '../worker/worker';
import { outcomeWithin } from './support/approval-outcome';
import { isPending, waitForApprovalState } from './support/approvals';
import {
  connectClient,
  Device,
  providerLog,
  rawClient,
  sharedStack,
  stackEnv,
  startProvider,
  startWorker,
  TEST_LOG_DIR,
  uniqueBindingMessage,
  uniqueTaskQueue,
  type StartedProvider,
} from './support/stack';
import { HANG_DETECTOR_MS, waitUntil } from './support/wait';
import { buildSequence, buildsOf, DeploymentCli } from './rolling-upgrade/deployment-cli';
import { HAND_BACK_PATCH, HANDED_BACK_BY, START_PATCH, STARTED_ON } from './rolling-upgrade/workflows-b';

jest.setTimeout(4 * HANG_DETECTOR_MS);

const DEPLOYMENT = 'ciba-approvals';
const A = 'build-a';
const B = 'build-b';
/** Build A's code: the standalone worker's approval workflows. */
const WORKFLOWS_A = require.resolve('../workflows/approval-workflows');
/** Build B's code: the same, and two changes behind patches. */
const WORKFLOWS_B = require.resolve('./rolling-upgrade/workflows-b');

let server: RunningTemporal;
let provider: StartedProvider;
let device: Device;
let deployment: DeploymentCli;
let env: Record<string, string>;
let approvals: ApprovalClient;
let client: Client;
const workers: Partial<Record<'unversioned' | 'a' | 'b' | 'a2', ManagedProcess>> = {};

/** The approvals that wait, by what the device will do, and their histories as recorded before B. */
interface Waiting {
  workflowId: string;
  bindingMessage: string;
  authReqId: string;
  recordedBeforeB?: temporal.api.history.v1.IHistory;
}
const waiting: Record<string, Waiting> = {};
/**
 * Waiting approvals the device decides while B is current: one started before versioning was turned on, four on A.
 * (`rollback`, also started on A, waits for the rollback.)
 */
const DECIDED_ON_B = {
  startedUnversioned: 'approve',
  timerApprove: 'approve',
  timerDeny: 'deny',
  compactApprove: 'approve',
  compactDeny: 'deny',
};
/** The builds each ran on before B ('-': an unversioned worker). */
const BEFORE_B = (name: string) => (name === 'startedUnversioned' ? ['-', A] : [A]);

beforeAll(async () => {
  // Its own server: drainage is checked every 2 s (default 3 min), and no other test's workers share its deployment.
  server = await startTemporalDevServer({
    port: 0,
    headless: true,
    dbFile: false,
    logFile: path.join(TEST_LOG_DIR, `temporal-rolling-upgrade-${Date.now()}.log`),
    extraArgs: [
      '--dynamic-config-value',
      'matching.wv.VersionDrainageStatusRefreshInterval="2s"',
      '--dynamic-config-value',
      'matching.wv.VersionDrainageStatusVisibilityGracePeriod="2s"',
    ],
  });
  provider = await startProvider({ IDP_POLL_INTERVAL: '2' });
  device = new Device(provider.issuer);
  const cli = await findTemporalCli();
  if (!cli) throw new Error('no temporal CLI (npm run setup installs it)');
  deployment = new DeploymentCli(cli, server.address, DEPLOYMENT);
  env = stackEnv(
    uniqueTaskQueue('rolling-upgrade'),
    { CIBA_WORKER_DEPLOYMENT_NAME: DEPLOYMENT },
    { ...sharedStack(), temporalAddress: server.address, issuer: provider.issuer },
  );
  approvals = await connectClient(env);
  client = await rawClient(env);
});

afterAll(async () => {
  await approvals?.close();
  await client?.connection.close();
  for (const worker of Object.values(workers)) await worker?.kill('SIGTERM');
  await provider?.kill('SIGTERM');
  await server?.stop();
});

function startBuildA(name: 'a' | 'a2'): Promise<ManagedProcess> {
  return startWorker({ ...env, CIBA_WORKER_BUILD_ID: A }, `worker-rolling-${name}`);
}

function startBuildB(): Promise<ManagedProcess> {
  return startTsProcess(
    'worker-rolling-b',
    'test/rolling-upgrade/worker-b.ts',
    { ...env, CIBA_WORKER_BUILD_ID: B },
    /ciba worker: task queue/,
    { logDir: TEST_LOG_DIR, timeoutMs: HANG_DETECTOR_MS },
  );
}

/** Makes `buildId` current once its workers poll (the server refuses a version without pollers on the queue). */
async function makeCurrent(buildId: string): Promise<void> {
  await deployment.waitForVersion(buildId);
  await waitUntil(
    () =>
      deployment.setCurrent(buildId).then(
        () => true,
        () => false,
      ),
    `${buildId} made current`,
    undefined,
    500,
  );
  expect((await deployment.describe()).routingConfig.currentVersionBuildID).toBe(buildId);
}

async function startWaiting(name: string, pollingMode: 'timer' | 'compact'): Promise<Waiting> {
  const input: ApprovalRequestInput = {
    loginHint: 'alice@example.com',
    bindingMessage: uniqueBindingMessage(`Upgrade ${name}`),
    pollingMode,
    requestedExpiry: 3600, // no ask expires (and is asked again) while the test runs, however slow the machine
  };
  const { workflowId } = await approvals.start(input);
  const { authReqId } = await waitForApprovalState(client, workflowId, isPending);
  return { workflowId, bindingMessage: input.bindingMessage, authReqId: authReqId! };
}

const handle = (workflowId: string): WorkflowHandle => client.workflow.getHandle(workflowId);
const historyOf = async (workflowId: string) =>
  (await handle(workflowId).fetchHistory()) as temporal.api.history.v1.IHistory;
/** The IDs of the runs `query` lists, sorted, once there are at least `count` (visibility lags a little). */
async function runsListed(query: string, count: number): Promise<string[]> {
  return waitUntil(async () => {
    const ids: string[] = [];
    for await (const run of client.workflow.list({ query })) ids.push(run.workflowId);
    return ids.length >= count && ids.sort();
  }, `runs listed by ${query}`);
}

const buildsThrough = async (workflowId: string) => buildSequence(buildsOf(await historyOf(workflowId)));

async function memoOf(workflowId: string): Promise<Record<string, unknown>> {
  return (await handle(workflowId).describe()).memo ?? {};
}

/** How often the provider was asked for this binding message: once, however many builds the approval ran on. */
async function initiations(bindingMessage: string): Promise<number> {
  return (await providerLog(provider.issuer, { bindingMessage })).filter((e) => e.endpoint === 'bc-authorize').length;
}

/** Replays `histories` on a build's workflow code, with the worker's data converter and interceptors: the failures. */
async function replayOn(workflowsPath: string, histories: Record<string, temporal.api.history.v1.IHistory>) {
  const failures: Record<string, string> = {};
  let replayed = 0;
  for await (const result of Worker.runReplayHistories(
    {
      workflowsPath,
      dataConverter: workerDataConverter(temporalSettings(env)),
      interceptors: { workflowModules: workerInterceptors.workflowModules },
    },
    Object.entries(histories).map(([workflowId, history]) => ({ workflowId, history })),
  )) {
    replayed += 1;
    if (result.error) failures[result.workflowId] = `${result.error.name}: ${result.error.message}`;
  }
  expect(replayed).toBe(Object.keys(histories).length);
  return failures;
}

it('versioning turned on: an approval waiting on an unversioned worker moves to build A once A is current', async () => {
  workers.unversioned = await startWorker({ ...env, CIBA_WORKER_DEPLOYMENT_NAME: '' }, 'worker-rolling-unversioned');
  const started = await startWaiting('startedUnversioned', 'timer');
  waiting.startedUnversioned = started;
  expect(await buildsThrough(started.workflowId)).toEqual(['-']);
  workers.a = await startBuildA('a');
  await makeCurrent(A);
  await workers.unversioned.kill('SIGTERM');
  delete workers.unversioned;
  await waitUntil(
    async () => (await buildsThrough(started.workflowId)).join() === ['-', A].join(),
    'the unversioned approval on A',
  );
});

it('approvals wait on build A, the current version', async () => {
  for (const [name, mode] of [
    ['timerApprove', 'timer'],
    ['timerDeny', 'timer'],
    ['compactApprove', 'compact'],
    ['compactDeny', 'compact'],
    ['rollback', 'timer'],
  ] as const) {
    waiting[name] = await startWaiting(name, mode);
  }
  for (const [name, approval] of Object.entries(waiting)) {
    approval.recordedBeforeB = await historyOf(approval.workflowId);
    expect(buildSequence(buildsOf(approval.recordedBeforeB))).toEqual(BEFORE_B(name));
  }
});

it('build B becomes current; A drains, its workers stop', async () => {
  workers.b = await startBuildB();
  await makeCurrent(B);
  // AUTO_UPGRADE runs never hold a version: A is drained once the server has checked (no pinned run is open on it).
  await waitUntil(async () => (await deployment.drainage(A)) === 'drained', 'build A drained', undefined, 1000);
  await workers.a!.kill('SIGTERM'); // graceful: a compact poll running on A ends, and its retry runs on B
  delete workers.a;
});

it('every approval that waited on A ends as the device decided, on B, without being asked again', async () => {
  for (const [name, decision] of Object.entries(DECIDED_ON_B)) {
    await device.decide(waiting[name]!.authReqId, decision as 'approve' | 'deny');
  }
  for (const [name, decision] of Object.entries(DECIDED_ON_B)) {
    const { workflowId, bindingMessage } = waiting[name]!;
    const outcome = await outcomeWithin(approvals, workflowId, HANG_DETECTOR_MS);
    if (decision === 'approve') {
      expect(outcome).toMatchObject({ kind: 'approved', result: { accessToken: expect.any(String) } });
      // B's hand-back change ran for a run started on A; its start change did not (A's history passed that point).
      expect(await memoOf(workflowId)).toEqual({ [HANDED_BACK_BY]: B });
    } else {
      expect(outcome).toMatchObject({ kind: 'failed', type: 'ApprovalDenied' });
    }
    expect(await buildsThrough(workflowId)).toEqual([...BEFORE_B(name), B]);
    expect(await initiations(bindingMessage)).toBe(1);
  }
});

it('new approvals start and end on B', async () => {
  const fresh = await startWaiting('fresh on B', 'compact');
  await device.decide(fresh.authReqId, 'approve');
  expect(await outcomeWithin(approvals, fresh.workflowId, HANG_DETECTOR_MS)).toMatchObject({ kind: 'approved' });
  expect(await buildsThrough(fresh.workflowId)).toEqual([B]);
  expect(await memoOf(fresh.workflowId)).toEqual({ [STARTED_ON]: B, [HANDED_BACK_BY]: B });
  waiting.freshOnB = fresh;
  // This one waits on B, past B's start patch, into the rollback.
  waiting.waitingOnB = await startWaiting('waiting on B', 'timer');
  expect(await memoOf(waiting.waitingOnB.workflowId)).toEqual({ [STARTED_ON]: B });
});

it("the histories recorded before B replay on B's code; those that took a patch of B do not replay on A's", async () => {
  const recordedBeforeB = Object.fromEntries(
    Object.values(waiting).flatMap((w) => (w.recordedBeforeB ? [[w.workflowId, w.recordedBeforeB]] : [])),
  );
  expect(Object.keys(recordedBeforeB)).toHaveLength(6);
  // B's patches only add paths, and patched() keeps the old one where A's history passed the point without a marker.
  expect(await replayOn(WORKFLOWS_B, recordedBeforeB)).toEqual({});

  const endedOnB: Record<string, temporal.api.history.v1.IHistory> = {};
  for (const name of [...Object.keys(DECIDED_ON_B), 'freshOnB']) {
    endedOnB[waiting[name]!.workflowId] = await historyOf(waiting[name]!.workflowId);
  }
  expect(await replayOn(WORKFLOWS_B, endedOnB)).toEqual({});
  // What a rollback must not send back to A: a run with a marker of B's patches, which A's code does not know. Only
  // those: the denied runs ended on B without reaching B's changes, and replay on A.
  const tookAPatch = ['startedUnversioned', 'timerApprove', 'compactApprove', 'freshOnB']
    .map((name) => waiting[name]!.workflowId)
    .sort();
  const onA = await replayOn(WORKFLOWS_A, endedOnB);
  expect(Object.keys(onA).sort()).toEqual(tookAPatch);
  // A's code meets B's first marker where it has no patch, or another patch (sealed-start-and-ask-gate) first.
  for (const failure of Object.values(onA))
    expect(failure).toMatch(/\[TMPRL1100\] Nondeterminism error: .*rolling-upgrade-test/);
  // The runs that took a patch are searchable (TemporalChangeVersion): how an operator finds them before a rollback.
  expect(await runsListed(`TemporalChangeVersion = '${HAND_BACK_PATCH}'`, tookAPatch.length)).toEqual(tookAPatch);
});

it('rollback: open runs that took a patch of B stay on B (pinned), the others go back to A; then B drains', async () => {
  workers.a2 = await startBuildA('a2');
  // Before A is current again, the open runs that took one of B's patches are pinned to B (docs/deploys.md).
  const tookAPatch = `ExecutionStatus = 'Running' AND TemporalChangeVersion IN ('${START_PATCH}', '${HAND_BACK_PATCH}')`;
  const pinned = waiting.waitingOnB!;
  expect(await runsListed(tookAPatch, 1)).toEqual([pinned.workflowId]);
  await deployment.run(
    'workflow',
    'update-options',
    '--query',
    tookAPatch,
    '--versioning-override-behavior',
    'pinned',
    '--versioning-override-deployment-name',
    DEPLOYMENT,
    '--versioning-override-build-id',
    B,
    '--reason',
    'rollback to build-a',
    '--yes',
  );
  await waitUntil(
    async () =>
      (await handle(pinned.workflowId).describe()).raw.workflowExecutionInfo?.versioningInfo?.versioningOverride,
    'the pin (a batch operation)',
  );
  await makeCurrent(A);

  // Waited on A, then on B, never past a patch of B: back on A.
  const back = waiting.rollback!;
  await device.decide(back.authReqId, 'approve');
  expect(await outcomeWithin(approvals, back.workflowId, HANG_DETECTOR_MS)).toMatchObject({ kind: 'approved' });
  expect(await buildsThrough(back.workflowId)).toEqual([A, B, A]);
  expect(await memoOf(back.workflowId)).toEqual({}); // A's code handed it back
  expect(await initiations(back.bindingMessage)).toBe(1);
  const history = { [back.workflowId]: await historyOf(back.workflowId) };
  expect(await replayOn(WORKFLOWS_A, history)).toEqual({});
  expect(await replayOn(WORKFLOWS_B, history)).toEqual({});

  // Took B's start patch: ends on B, with B's code.
  await device.decide(pinned.authReqId, 'approve');
  expect(await outcomeWithin(approvals, pinned.workflowId, HANG_DETECTOR_MS)).toMatchObject({ kind: 'approved' });
  expect(await buildsThrough(pinned.workflowId)).toEqual([B]);
  expect(await memoOf(pinned.workflowId)).toEqual({ [STARTED_ON]: B, [HANDED_BACK_BY]: B });
  expect(await initiations(pinned.bindingMessage)).toBe(1);

  // B held a pinned run: drained once that ended; then its workers stop.
  await waitUntil(async () => (await deployment.drainage(B)) === 'drained', 'build B drained', undefined, 1000);
  await workers.b!.kill('SIGTERM');
  delete workers.b;

  const fresh = await startWaiting('fresh after rollback', 'timer');
  await device.decide(fresh.authReqId, 'approve');
  expect(await outcomeWithin(approvals, fresh.workflowId, HANG_DETECTOR_MS)).toMatchObject({ kind: 'approved' });
  expect(await buildsThrough(fresh.workflowId)).toEqual([A]);
});

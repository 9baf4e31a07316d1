/**
 * Nothing lost when parts of the cluster die (docs/cluster.md: Faults). On its own cluster (test/support/cluster.ts:
 * own ports and data root, the shared build), 48 approvals of 48 distinct users wait at once, half in each polling
 * mode (timer, compact), a third started through each API instance and a third through ApprovalClient. While they
 * wait, one fault after the other (devstack/cluster/faults.ts):
 *
 * 1. approval worker 2 killed with SIGKILL, then started again;
 * 2. the Temporal history service killed with SIGKILL, then started again;
 * 3. PostgreSQL stopped like a crash (`pg_ctl stop -m immediate`) for 30 s, then started again;
 * 4. API instance 1 killed with SIGKILL while every HTTP client's long poll is open on it, then started again: each
 *    client goes on against instance 2.
 *
 * After each fault the test waits until the provider has seen a poll of every approval since the fault ended (each
 * approval is alive, whichever worker holds it). Then the device approves some and denies some, and the test checks:
 * every approval ended once (one run, closed) with the right outcome (approved: tokens; denied: ApprovalDenied);
 * the provider was asked once per request and per user (one bc-authorize each), and issued tokens once per approved
 * request; no approval workflow is left running. Waits are for conditions only; the 30 s of the outage is the fault,
 * not a wait for something to happen.
 *
 * Runs only with CIBA_TEST_CLUSTER=1 (as test/cluster.test.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { ApprovalClient, ApprovalFailedError } from '../client/approvals';
import { temporalSettings } from '../common/config';
import type { RequestLogEntry } from '../provider/request-log';
import { CLUSTER_START_TIMEOUT_MS, clusterTestsEnabled, startTestCluster, type TestCluster } from './support/cluster';
import { LongPollers } from './support/long-poll';
import { Device, providerLog } from './support/stack';
import { waitUntil } from './support/wait';

const APPROVALS = 48;
/** Approval i asks user<i+1>: the provider accepts user1..userN (IDP_TEST_USERS). */
const USERS = APPROVALS;
const POSTGRES_DOWN_MS = 30_000;
const TaskQueueType = proto.api.enums.v1.TaskQueueType;

type Starter = 'api-1' | 'api-2' | 'client';
type Outcome = { approved: true; accessToken: string } | { approved: false; type: string };
interface InFlight {
  index: number;
  loginHint: string;
  bindingMessage: string;
  pollingMode: 'timer' | 'compact';
  starter: Starter;
  decision: 'approve' | 'deny';
  id: string;
  authReqId?: string;
  outcome?: Promise<Outcome>;
  /** Set once the outcome is known (or its wait failed). */
  ended?: boolean;
}

const describeCluster = clusterTestsEnabled ? describe : describe.skip;

describeCluster('cluster faults: approvals in flight survive (CIBA_TEST_CLUSTER=1)', () => {
  let cluster: TestCluster;
  let approvals: ApprovalClient;
  let temporal: Client;
  let device: Device;
  let pollers: LongPollers;
  const run = randomUUID().slice(0, 8);
  const inFlight: InFlight[] = [];
  const report: string[] = [];
  /** Ends the client's waits at cleanup. */
  const stopWaits = new AbortController();
  /** Errors the client's waits got and waited out (Temporal unavailable while a part of it was down). */
  const clientErrors: string[] = [];

  beforeAll(async () => {
    cluster = await startTestCluster({
      name: 'faults',
      reuse: false,
      providerEnv: { IDP_TEST_USERS: String(USERS) },
    });
    approvals = await ApprovalClient.connect(temporalSettings(cluster.clientEnv as NodeJS.ProcessEnv));
    temporal = approvals.client;
    device = new Device(cluster.issuer);
    pollers = new LongPollers(cluster.apiUrls, `Basic ${Buffer.from(cluster.apiKey).toString('base64')}`);
  }, CLUSTER_START_TIMEOUT_MS);

  afterAll(async () => {
    pollers?.close();
    stopWaits.abort();
    await approvals?.close();
    if (cluster?.running) {
      for (const { fault, ms } of cluster.running.faults.applied) report.push(`${fault}: ${ms} ms`);
    }
    await cluster?.stop();
    if (report.length) process.stderr.write(`cluster faults:\n  ${report.join('\n  ')}\n`);
  }, 180_000);

  /**
   * The client's wait (Temporal's long poll of the history): the approval's end answers. ApprovalClient.result waits
   * out history or its database down itself; any other error is recorded (the test then fails) and waited out.
   */
  async function clientOutcome(id: string): Promise<Outcome> {
    for (;;) {
      try {
        const result = await approvals.client.withAbortSignal(stopWaits.signal, () => approvals.result(id));
        return { approved: true, accessToken: result.accessToken };
      } catch (error) {
        if (error instanceof ApprovalFailedError) return { approved: false, type: error.type };
        stopWaits.signal.throwIfAborted();
        clientErrors.push((error as Error).message);
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  /** The HTTP client's wait: long polls on API instance 1, on instance 2 while 1 fails (support/long-poll.ts). */
  async function httpOutcome(id: string): Promise<Outcome> {
    const outcome = await pollers.outcome(id, 0);
    return outcome.status === 200
      ? { approved: true, accessToken: String(outcome.body.accessToken) }
      : { approved: false, type: String(outcome.body.type).split(':').pop()! };
  }

  /** The provider's request log (everything since it started), and this run's entries by auth_req_id. */
  async function providerView() {
    const all = await providerLog(cluster.issuer);
    const log = all.filter((e) => e.bindingMessage?.startsWith(`Fault ${run} `));
    const byRequest = new Map<string, RequestLogEntry[]>();
    for (const entry of log) {
      if (!entry.authReqId) continue;
      byRequest.set(entry.authReqId, [...(byRequest.get(entry.authReqId) ?? []), entry]);
    }
    return { all, log, byRequest };
  }

  /** Waits until the provider has seen a token poll of every approval after `since` (each one is being polled). */
  async function everyApprovalPolledAfter(since: number, what: string): Promise<void> {
    await waitUntil(async () => {
      const { byRequest } = await providerView();
      return inFlight.every((a) =>
        (byRequest.get(a.authReqId!) ?? []).some((e) => e.endpoint === 'token' && e.atMs > since),
      );
    }, `every approval polled at the provider after ${what}`);
    report.push(`every approval polled again ${Date.now() - since} ms after ${what}`);
  }

  test(
    `${APPROVALS} approvals of ${USERS} users through both APIs and the client, both polling modes, through four faults`,
    async () => {
      const faults = cluster.running!.faults;
      const authorization = `Basic ${Buffer.from(cluster.apiKey).toString('base64')}`;

      // Start them: a third through each API instance, a third through the client; timer and compact alternate.
      const starters: Starter[] = ['api-1', 'api-2', 'client'];
      for (let index = 0; index < APPROVALS; index++) {
        const approval: Omit<InFlight, 'id'> = {
          index,
          loginHint: `user${index + 1}@example.com`,
          bindingMessage: `Fault ${run} n${index}`,
          pollingMode: index % 2 === 0 ? 'timer' : 'compact',
          starter: starters[index % 3]!,
          decision: index % 5 === 2 ? 'deny' : 'approve',
        };
        // An hour per ask: no ask expires (and asks again) while the faults take their time.
        const request = {
          loginHint: approval.loginHint,
          bindingMessage: approval.bindingMessage,
          pollingMode: approval.pollingMode,
          requestedExpiry: 3600,
        };
        let id: string;
        if (approval.starter === 'client') {
          const started = await approvals.start(request, { key: `faults-${run}-${index}` });
          expect(started.started).toBe(true);
          id = started.workflowId;
        } else {
          const api = cluster.apiUrls[approval.starter === 'api-1' ? 0 : 1]!;
          const response = await fetch(`${api}/approvals`, {
            method: 'POST',
            headers: { authorization, 'content-type': 'application/json', 'idempotency-key': `faults-${run}-${index}` },
            body: JSON.stringify(request),
          });
          expect(response.status).toBe(201);
          id = ((await response.json()) as { id: string }).id;
        }
        inFlight.push({ ...approval, id });
      }

      // Across the three workers: each polls the task queue for workflow and activity tasks.
      const taskQueue = cluster.clientEnv.CIBA_TASK_QUEUE ?? 'ciba-approvals';
      for (const taskQueueType of [TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY]) {
        await waitUntil(async () => {
          const { pollers } = await temporal.workflowService.describeTaskQueue({
            namespace: 'default',
            taskQueue: { name: taskQueue },
            taskQueueType,
          });
          return new Set(pollers?.map((p) => p.identity)).size >= 3;
        }, `three workers polling ${taskQueue} (${TaskQueueType[taskQueueType]})`);
      }

      // Every user is asked: each request is pending on the device.
      const pending = await waitUntil(async () => {
        const mine = new Map((await device.pending()).map((r) => [r.binding_message, r]));
        return inFlight.every((a) => mine.has(a.bindingMessage)) && mine;
      }, `all ${APPROVALS} asks pending on the device`);
      for (const a of inFlight) a.authReqId = pending.get(a.bindingMessage)!.auth_req_id;

      // Their outcomes, waited for from now on: API-started ones by HTTP long polls (all on instance 1, so that its
      // death cuts them), client-started ones by the client. An outcome before any decision (there must be none) is
      // seen below; a failed wait fails the test when it is awaited.
      for (const a of inFlight) {
        a.outcome = a.starter === 'client' ? clientOutcome(a.id) : httpOutcome(a.id);
        a.outcome.then(
          () => (a.ended = true),
          () => (a.ended = true),
        );
      }

      // 1. A worker dies without a word: the others carry its approvals; then it comes back.
      await faults.killWorker(1);
      await everyApprovalPolledAfter(Date.now(), 'worker-2 killed');
      await faults.startWorker(1);

      // 2. The history service dies, and comes back.
      await faults.restartTemporalService('history', { kill: true });
      await everyApprovalPolledAfter(Date.now(), 'history killed and restarted');

      // 3. The database is gone for 30 s.
      await faults.postgresOutage(POSTGRES_DOWN_MS);
      await everyApprovalPolledAfter(Date.now(), `PostgreSQL back after ${POSTGRES_DOWN_MS / 1000} s down`);

      // 4. API instance 1 dies with every HTTP client's long poll open on it; the clients go on against instance 2.
      const httpClients = inFlight.filter((a) => a.starter !== 'client').length;
      await waitUntil(() => pollers.stats.open[0] === httpClients, `all ${httpClients} long polls open on api-1`);
      const failoversBefore = pollers.stats.failovers;
      await faults.killApi(0);
      await waitUntil(() => pollers.stats.open[1] === httpClients, `all ${httpClients} long polls moved to api-2`);
      expect(pollers.stats.failovers - failoversBefore).toBeGreaterThanOrEqual(httpClients);
      await faults.startApi(0);

      // Nothing ended while nobody decided.
      expect(inFlight.filter((a) => a.ended).map((a) => a.index)).toEqual([]);
      for (const a of inFlight) {
        const described = await temporal.workflow.getHandle(a.id).describe();
        expect([a.index, described.status.name]).toEqual([a.index, 'RUNNING']);
      }

      // The device decides: approves some, denies some.
      for (const a of inFlight) await device.decide(a.authReqId!, a.decision);

      // Every approval ends with the right outcome.
      for (const a of inFlight) {
        const outcome = await a.outcome!;
        if (a.decision === 'approve') {
          expect([a.index, outcome.approved]).toEqual([a.index, true]);
          expect(outcome.approved && outcome.accessToken.length).toBeGreaterThan(10);
        } else {
          expect([a.index, outcome]).toEqual([a.index, { approved: false, type: 'ApprovalDenied' }]);
        }
      }
      const { failovers, serverErrors, stillPending } = pollers.stats;
      report.push(
        `HTTP long polls: ${failovers} went on against the other instance (${failovers - serverErrors} cut by the ` +
          `killed instance, ${serverErrors} answered 5xx while Temporal was down), ${stillPending} ran out (202) ` +
          `and were asked again`,
        `client waits: ${clientErrors.length} errors waited out` +
          (clientErrors.length ? ` (${[...new Set(clientErrors)].join('; ')})` : ''),
      );
      // ApprovalClient.result waits through the outages itself: its callers see the outcome, never the outage.
      expect(clientErrors).toEqual([]);

      // Once: one run per approval, closed as its outcome says.
      for (const a of inFlight) {
        const described = await temporal.workflow.getHandle(a.id).describe();
        const closedAs = a.decision === 'approve' ? 'COMPLETED' : 'FAILED';
        expect([a.index, described.status.name]).toEqual([a.index, closedAs]);
        let runs = 0;
        for await (const _ of temporal.workflow.list({ query: `WorkflowId = '${a.id}'` })) runs++;
        expect([a.index, runs]).toEqual([a.index, 1]);
      }

      // The provider: each request and each user asked once (the user: in everything the provider saw since it
      // started); tokens issued once per approved request, none for the denied ones.
      const { all, log, byRequest } = await providerView();
      for (const a of inFlight) {
        const asks = log.filter(
          (e) => e.endpoint === 'bc-authorize' && e.status === 200 && e.bindingMessage === a.bindingMessage,
        );
        expect([a.index, asks.length]).toEqual([a.index, 1]);
        const ofUser = all.filter((e) => e.endpoint === 'bc-authorize' && e.loginHint === a.loginHint);
        expect([a.loginHint, ofUser.length]).toEqual([a.loginHint, 1]);
        const issued = (byRequest.get(a.authReqId!) ?? []).filter((e) => e.endpoint === 'token' && e.status === 200);
        expect([a.index, issued.length]).toEqual([a.index, a.decision === 'approve' ? 1 : 0]);
      }

      // No approval workflow of this run left running (visibility, once it has caught up).
      const ids = inFlight.map((a) => `'${a.id}'`).join(', ');
      await waitUntil(async () => {
        const { count } = await temporal.workflow.count(`WorkflowId IN (${ids}) AND ExecutionStatus = 'Running'`);
        return count === 0;
      }, 'visibility lists none of them running');
      const { count: closed } = await temporal.workflow.count(
        `WorkflowId IN (${ids}) AND ExecutionStatus != 'Running'`,
      );
      expect(closed).toBe(APPROVALS);
      report.push(
        `${APPROVALS} approvals: ${inFlight.filter((a) => a.decision === 'approve').length} approved, ` +
          `${inFlight.filter((a) => a.decision === 'deny').length} denied, each asked once`,
      );
    },
    40 * 60_000,
  );
});

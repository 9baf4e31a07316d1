/**
 * The worker's Prometheus endpoint (CIBA_METRICS_ADDRESS): a scripted run — two approvals approved (one in timer
 * mode, one in compact mode), one denied — and the endpoint's values: approvals started and ended by outcome, asks by
 * reason, polls by the provider's answer (equal to the provider's own request log), histogram counts; the SDK's own
 * metrics on the same endpoint; no personal data or token in any label.
 */
import { temporal } from '@temporalio/proto';
import { getFreePort } from '../devstack/ports';
import { ApprovalFailedError } from '../client/approvals';
import { pingSignal } from '../workflows/signals';
import { isPending, waitForApprovalState } from './support/approvals';
import { Device, providerLog, sharedStack, stackEnv, uniqueBindingMessage, uniqueTaskQueue } from './support/stack';
import { HANG_DETECTOR_MS, waitUntil } from './support/wait';
import { startWorkerWithClients, stopWorkerWithClients, type WorkerWithClients } from './support/worker-fixture';

jest.setTimeout(3 * HANG_DETECTOR_MS);

const { EventType, WorkflowTaskFailedCause } = temporal.api.enums.v1;

const stack = sharedStack();
const device = new Device(stack.issuer);
let fixture: WorkerWithClients;
let metricsUrl: string;

beforeAll(async () => {
  const port = await getFreePort();
  metricsUrl = `http://127.0.0.1:${port}/metrics`;
  fixture = await startWorkerWithClients(
    stackEnv(uniqueTaskQueue('metrics'), { CIBA_METRICS_ADDRESS: `127.0.0.1:${port}` }),
    'worker-metrics',
  );
});
afterAll(() => fixture && stopWorkerWithClients(fixture));

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

async function scrape(): Promise<{ text: string; samples: Sample[] }> {
  const text = await (await fetch(metricsUrl)).text();
  const samples = text
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match) throw new Error(`not a Prometheus sample: ${line}`);
      const labels = Object.fromEntries(
        [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]),
      );
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
  return { text, samples };
}

/** The sum of a metric's samples whose labels include `labels`. */
function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** Every value of one label of a metric, with the sum of its samples. */
function byLabel(samples: Sample[], name: string, label: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const s of samples.filter((x) => x.name === name)) {
    const key = s.labels[label] ?? '';
    counts[key] = (counts[key] ?? 0) + s.value;
  }
  return counts;
}

it('serves approvals, asks, polls and decision times that match what happened at the provider', async () => {
  const runs = [
    { label: 'Metrics approve timer', decision: 'approve', pollingMode: 'timer' },
    { label: 'Metrics approve compact', decision: 'approve', pollingMode: 'compact' },
    { label: 'Metrics deny', decision: 'deny', pollingMode: 'timer' },
  ] as const;
  const authReqIds: string[] = [];
  const messages: string[] = [];
  for (const run of runs) {
    const bindingMessage = uniqueBindingMessage(run.label);
    messages.push(bindingMessage);
    const { workflowId } = await fixture.approvals.start({
      loginHint: 'alice@example.com',
      bindingMessage,
      pollingMode: run.pollingMode,
    });
    const { authReqId } = await waitForApprovalState(fixture.temporal, workflowId, isPending);
    // Let it poll at least once before the user decides (the provider's log then has a pending answer too).
    await waitUntil(
      async () => (await providerLog(stack.issuer, { authReqId })).some((e) => e.endpoint === 'token'),
      `a poll of ${run.label}`,
    );
    await device.decide(authReqId!, run.decision);
    const outcome = await fixture.approvals.result(workflowId).then(
      () => 'approved',
      (error: unknown) => (error instanceof ApprovalFailedError ? error.type : String(error)),
    );
    expect(outcome).toBe(run.decision === 'approve' ? 'approved' : 'ApprovalDenied');
    authReqIds.push(authReqId!);
  }

  // What the provider answered to this worker's polls, by answer: its request log.
  const expectedPolls: Record<string, number> = {};
  let asks = 0;
  for (const authReqId of authReqIds) {
    for (const entry of await providerLog(stack.issuer, { authReqId })) {
      if (entry.endpoint === 'bc-authorize') asks++;
      if (entry.endpoint !== 'token') continue;
      const answer = entry.status === 200 ? 'approved' : entry.error!;
      expectedPolls[answer] = (expectedPolls[answer] ?? 0) + 1;
    }
  }
  expect(asks).toBe(3);
  expect(expectedPolls).toMatchObject({ approved: 2, access_denied: 1 });
  expect(expectedPolls.authorization_pending).toBeGreaterThanOrEqual(3);

  // Workflow metrics reach the endpoint once their workflow task completed: wait for the counts, then compare all.
  const { text, samples } = await waitUntil(async () => {
    const scraped = await scrape();
    return total(scraped.samples, 'ciba_approvals_ended_total') === 3 && scraped;
  }, 'three approvals ended on the metrics endpoint');

  expect(total(samples, 'ciba_approvals_started_total')).toBe(3);
  expect(byLabel(samples, 'ciba_approvals_ended_total', 'outcome')).toEqual({ approved: 2, denied: 1 });
  expect(total(samples, 'ciba_approvals_ended_total', { outcome: 'denied', failure_type: 'ApprovalDenied' })).toBe(1);
  expect(byLabel(samples, 'ciba_asks_total', 'reason')).toEqual({ first: 3 });
  expect(byLabel(samples, 'ciba_polls_total', 'answer')).toEqual(expectedPolls);
  expect(total(samples, 'ciba_polls_total', { mode: 'compact', answer: 'approved' })).toBe(1);
  expect(total(samples, 'ciba_polls_total', { mode: 'timer', answer: 'approved' })).toBe(1);
  expect(total(samples, 'ciba_time_to_decision_seconds_count')).toBe(3);
  expect(total(samples, 'ciba_time_to_decision_seconds_count', { answer: 'denied' })).toBe(1);
  expect(total(samples, 'ciba_time_to_decision_seconds_sum')).toBeGreaterThan(0);
  expect(total(samples, 'ciba_decision_to_result_seconds_count')).toBe(2);
  expect(total(samples, 'ciba_time_to_decision_seconds_bucket', { answer: 'approved', le: '+Inf' })).toBe(2);

  // The SDK's own metrics are on the same endpoint.
  expect(samples.some((s) => s.name.startsWith('temporal_'))).toBe(true);
  // No personal data, binding message or auth_req_id anywhere in it.
  for (const secret of [...authReqIds, ...messages, 'alice']) expect(text).not.toContain(secret);
});

/** Workflow tasks the server rejected because new events (here: signals) came in while they ran. */
async function unhandledCommandFailures(workflowId: string): Promise<number> {
  const history = await fixture.temporal.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).filter(
    (e) =>
      e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED &&
      e.workflowTaskFailedEventAttributes?.cause ===
        WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
  ).length;
}

/**
 * Sends signals to `workflowId` (pings for an ask it does not have: they change nothing) until it has closed, so that
 * one arrives while the workflow task that ends the approval runs: the server then rejects that task's commands
 * (UNHANDLED_COMMAND) and the worker runs the ending again in a new task.
 */
async function signalUntilClosed(workflowId: string): Promise<void> {
  const handle = fixture.temporal.workflow.getHandle(workflowId);
  const sender = async () => {
    for (;;) {
      try {
        await handle.signal(pingSignal, { authReqId: 'not-an-ask-of-this-approval' });
      } catch {
        return; // closed
      }
    }
  };
  await Promise.all([sender(), sender(), sender()]);
}

it('counts each approval once, though signals racing its ending make the server reject and retry its workflow task', async () => {
  const before = (await scrape()).samples;
  const count = (samples: Sample[]) => ({
    started: total(samples, 'ciba_approvals_started_total'),
    ended: total(samples, 'ciba_approvals_ended_total'),
    denied: total(samples, 'ciba_approvals_ended_total', { outcome: 'denied' }),
    decisions: total(samples, 'ciba_time_to_decision_seconds_count'),
  });
  const baseline = count(before);
  // Rounds of three approvals, each denied while signals keep arriving, until the server rejected at least one ending
  // workflow task (the race this is about); every round's tasks that were rejected are counted from the histories.
  const ids: string[] = [];
  let rejected = 0;
  for (let round = 1; round <= 5 && rejected === 0; round++) {
    const roundIds = await Promise.all(
      [1, 2, 3].map(async (i) => {
        const { workflowId } = await fixture.approvals.start({
          loginHint: 'alice@example.com',
          bindingMessage: uniqueBindingMessage(`Metrics race ${round}.${i}`),
        });
        const { authReqId } = await waitForApprovalState(fixture.temporal, workflowId, isPending);
        await device.decide(authReqId!, 'deny');
        await signalUntilClosed(workflowId);
        await expect(fixture.approvals.result(workflowId)).rejects.toMatchObject({ type: 'ApprovalDenied' });
        return workflowId;
      }),
    );
    for (const id of roundIds) rejected += await unhandledCommandFailures(id);
    ids.push(...roundIds);
  }
  expect(rejected).toBeGreaterThan(0); // the race happened: some endings ran twice

  // Every approval has closed. Wait until the endpoint shows them all, then compare: one of each per approval.
  const after = await waitUntil(async () => {
    const { samples } = await scrape();
    return count(samples).ended - baseline.ended >= ids.length && samples;
  }, `${ids.length} ended approvals on the metrics endpoint`);
  const counted = count(after);
  expect({
    started: counted.started - baseline.started,
    ended: counted.ended - baseline.ended,
    denied: counted.denied - baseline.denied,
    decisions: counted.decisions - baseline.decisions,
  }).toEqual({ started: ids.length, ended: ids.length, denied: ids.length, decisions: ids.length });
  // Labelled as the workflow's metricMeter labelled them (namespace, taskQueue, workflowType), not by the reporting
  // activity (no activityType).
  const denied = after.find((s) => s.name === 'ciba_approvals_ended_total' && s.labels.outcome === 'denied')!;
  expect(denied.labels).toMatchObject({ workflowType: 'cibaApproval', taskQueue: fixture.env.CIBA_TASK_QUEUE });
  expect(Object.keys(denied.labels).sort()).toEqual(
    ['failure_type', 'namespace', 'outcome', 'taskQueue', 'workflowType'].sort(),
  );
});

/**
 * One measurement of bench/history.ts: one form of polling loop against one provider behaviour, run on the
 * time-skipping test server until the simulated user approves, with every run's history fetched.
 */
import { sealFor } from '../common/start-seal';
import { tsToMs } from '@temporalio/common/lib/time';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { ApprovalRequestSchema, type ApprovalRequestInput } from '../common/approval';
import { createSimulatedProviderWorker, fetchRunHistories } from '../test/support/time-skipping';
import { createBenchActivities } from './bench-activities';
import type { HistoryOptions } from './history-options';
import type { ReferenceLoopInput } from './reference-workflows';
import type { SimulatedProvider } from './simulated-provider';

export const HOUR_MS = 3_600_000;

/**
 *   cibaApproval   the real workflow (workflows/approval.ts): cadence tiers, asking again, continue-as-new
 *   naive          timer + normal activity per poll, no tiers, no continue-as-new (bench/reference-workflows.ts)
 *   local-act      timer + local activity per poll, otherwise as naive
 *   retry          (extra) one activity per request, polling once per attempt, the retry policy waits
 */
export type Form = 'cibaApproval' | 'naive' | 'local-act' | 'retry';
/** long: one request that lives 72 h; 5min: every request expires after 300 s and the workflow asks again. */
export type Mode = 'long' | '5min';

const WORKFLOW_TYPES: Record<Form, string> = {
  cibaApproval: 'cibaApproval',
  naive: 'naivePollingLoop',
  'local-act': 'localActivityPollingLoop',
  retry: 'retryPollingLoop',
};

const DELAY_BETWEEN_ASKS_SECONDS = 60;
const REQUEST_LIFETIME_5MIN = 300;
const REQUESTED_EXPIRY_LONG = 259_200; // 72 h, Auth0's maximum

export interface Measured {
  form: Form;
  mode: Mode;
  /** Simulated hours this form actually ran. */
  ranHours: number;
  startMs: number;
  /** Each run's event times (test-server time, epoch ms), first run first. */
  runs: number[][];
  provider: SimulatedProvider;
  /** How it ended (approved, or a failure type) and when (simulated hours). */
  ended: string;
  endedAtHours: number;
  realSeconds: number;
  note?: string;
}

export async function measure(
  env: TestWorkflowEnvironment,
  workflowBundle: WorkflowBundleWithSourceMap,
  options: HistoryOptions,
  form: Form,
  mode: Mode,
  hours: number,
): Promise<Measured> {
  const taskQueue = `bench-${form}-${mode}`;
  const workflowId = `${taskQueue}-${Date.now()}`;
  const { input, note } = workflowInput(form, mode, hours);
  const { provider, worker } = await createSimulatedProviderWorker(env, {
    taskQueue,
    workflowBundle,
    provider: {
      expiresIn: mode === 'long' ? REQUESTED_EXPIRY_LONG : REQUEST_LIFETIME_5MIN,
      interval: options.interval,
      // The user approves at the horizon: the workflow then ends by itself and its histories are complete.
      decision: { kind: 'approve', afterMs: hours * HOUR_MS },
    },
    activities: createBenchActivities,
  });
  const realStart = Date.now();
  const startMs = await env.currentTimeMs();
  log(`${form} / ${mode}: simulating ${hours} h ...`);
  const progress = setInterval(() => {
    const simulated =
      provider.firstRequestAtMs === undefined ? 0 : (provider.lastSeenMs - provider.firstRequestAtMs) / HOUR_MS;
    log(
      `  ${form} / ${mode}: ${simulated.toFixed(2)} h simulated, ${provider.requests.length} asks, ${provider.polls.length} polls`,
    );
  }, 10_000);
  let ended = 'approved';
  let firstRunId: string;
  try {
    // The approval's input is sealed for its workflow, on the test server's clock.
    const args = [
      form === 'cibaApproval'
        ? { ...(input as object), seal: sealFor(workflowId, `bench-${workflowId}`, startMs) }
        : input,
    ];
    const handle = await env.client.workflow.start(WORKFLOW_TYPES[form], { taskQueue, workflowId, args });
    firstRunId = handle.firstExecutionRunId;
    await worker.runUntil(
      handle.result().catch((error: unknown) => {
        const cause = (error as { cause?: { type?: string; message?: string } }).cause;
        ended = cause?.type ?? cause?.message ?? String(error);
      }),
    );
  } finally {
    clearInterval(progress);
  }
  const runs = (await fetchRunHistories(env, workflowId, firstRunId)).map((events) =>
    events.map((e) => tsToMs(e.eventTime)),
  );
  const lastEventMs = Math.max(...runs.flatMap((times) => times.slice(-1)));
  const endedAtHours = (lastEventMs - startMs) / HOUR_MS;
  const realSeconds = (Date.now() - realStart) / 1000;
  log(
    `${form} / ${mode}: ${ended} at ${endedAtHours.toFixed(2)} h simulated, ${runs.length} run(s), ` +
      `${runs.reduce((n, times) => n + times.length, 0)} events, ${provider.polls.length} polls, ` +
      `${provider.requests.length} asks, ${provider.slowDowns} slow_down; ${realSeconds.toFixed(1)} s real`,
  );
  return { form, mode, ranHours: hours, startMs, runs, provider, ended, endedAtHours, realSeconds, note };
}

/** The workflow's input for this form and provider behaviour. */
function workflowInput(form: Form, mode: Mode, hours: number): { input: unknown; note?: string } {
  const base = { loginHint: 'alice@example.com', bindingMessage: 'Pay 50.00 USD to ExampleCorp', scope: 'openid' };
  const requestedExpiry = mode === 'long' ? REQUESTED_EXPIRY_LONG : undefined;
  if (form !== 'cibaApproval') {
    const input: ReferenceLoopInput = {
      request: { ...base, requestedExpiry },
      delayBetweenAsksSeconds: DELAY_BETWEEN_ASKS_SECONDS,
    };
    return { input };
  }
  const cycleSeconds = REQUEST_LIFETIME_5MIN + DELAY_BETWEEN_ASKS_SECONDS;
  const wanted = mode === 'long' ? 3 : Math.ceil((hours * 3600) / cycleSeconds) + 2;
  const { input, capped } = approvalInput(
    { ...base, requestedExpiry, approvalTimeout: `${Math.ceil(hours) + 1}h` },
    wanted,
  );
  return {
    input,
    note: capped !== undefined ? `maxAsks capped at ${capped} by the schema (wanted ${wanted})` : undefined,
  };
}

/** The approval input, with maxAsks as wanted or, when the schema allows less, at the schema's maximum. */
function approvalInput(
  base: ApprovalRequestInput,
  wantedAsks: number,
): { input: ApprovalRequestInput; capped?: number } {
  const input: ApprovalRequestInput = {
    ...base,
    askAgain: { maxAsks: wantedAsks, delayBetweenAsks: DELAY_BETWEEN_ASKS_SECONDS },
  };
  const parsed = ApprovalRequestSchema.safeParse(input);
  if (parsed.success) return { input };
  const tooBig = parsed.error.issues.find((i) => i.path.join('.') === 'askAgain.maxAsks' && i.code === 'too_big');
  if (!tooBig || tooBig.code !== 'too_big') throw new Error(`invalid approval input: ${parsed.error.message}`);
  const max = Number(tooBig.maximum);
  return { input: { ...input, askAgain: { maxAsks: max, delayBetweenAsks: DELAY_BETWEEN_ASKS_SECONDS } }, capped: max };
}

export function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

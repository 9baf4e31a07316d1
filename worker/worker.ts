/**
 * Builds the worker: the approval workflows on CIBA_TASK_QUEUE and the sample agent on CIBA_AGENT_TASK_QUEUE, each
 * Worker with its own workflow bundle, and the activities wired to one CIBA client.
 */
import { ApplicationFailure } from '@temporalio/common';
import { NativeConnection, Runtime, Worker, type WorkerInterceptors, type WorkerOptions } from '@temporalio/worker';
import { createCibaActivities, createWorkerSettingsActivities, type PingSettings } from '../activities/activities';
import { PingWakeups } from '../activities/ping-wakeups';
import { notificationKeyFrom } from '../common/notification-token';
import { signalApproval, startNotificationServer, type NotificationServer } from './notification-server';
import { Client } from '@temporalio/client';
import { CibaClient } from '../activities/ciba-protocol';
import { createPaymentActivities } from '../activities/payments';
import { createUserAskActivities, userGateKeyFrom } from '../activities/user-asks';
import { createApprovalMetricsActivities } from '../activities/approval-metrics';
import { ApprovalFailureType } from '../common/outcomes';
import { connectWithToken } from '../common/client-credentials-token';
import { workerDataConverter } from '../common/config';
import { rejectedPayloadOf, rejectionMessage } from '../common/rejected-payload';
import { SEARCH_ATTRIBUTES } from '../common/search-attributes';
import type { WorkerConfig } from './config';
import { WORKFLOW_METRICS } from '../workflows/metrics';
import { startTracing } from './tracing';
import { workerDeploymentOptions } from './deployment';
import { approvalBundlerOptions } from './bundler-options';

/**
 * Only holders of the payload key can make this worker act. Its codec (workerDataConverter) replaces a payload that
 * is not encrypted, or that no key of it decrypts, by a marker; these interceptors turn markers into typed failures
 * (PayloadNotEncrypted, PayloadKeyMismatch) before workflow or activity code runs: workflows/interceptors.ts for
 * workflows; here, for activity inputs (written by workflows, so encrypted, unless a worker with another key wrote
 * them). Replay uses the same interceptors (test/replay.test.ts).
 */
export const workerInterceptors: WorkerInterceptors = {
  workflowModules: [require.resolve('../workflows/interceptors')],
  activity: [
    (ctx) => ({
      inbound: {
        async execute(input, next) {
          for (const arg of input.args) {
            const rejected = rejectedPayloadOf(arg);
            if (rejected) {
              throw ApplicationFailure.create({
                message: rejectionMessage(rejected, `the input of activity ${ctx.info.activityType}`),
                type:
                  rejected.reason === 'key_mismatch'
                    ? ApprovalFailureType.PayloadKeyMismatch
                    : ApprovalFailureType.PayloadNotEncrypted,
                nonRetryable: true,
              });
            }
          }
          return next(input);
        },
      },
    }),
  ],
};

/** Histogram buckets (seconds) of the service's own histograms (workflows/metrics.ts). */
export const HISTOGRAM_BUCKETS: Record<string, number[]> = {
  // An ask lives minutes (Auth0: 5 min by default) up to 72 h (e-mail).
  [WORKFLOW_METRICS.timeToDecision]: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600, 14_400, 86_400, 259_200],
  // About the polling interval, plus Temporal's latency.
  [WORKFLOW_METRICS.decisionToResult]: [0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300],
};

/** The metrics endpoint, or why there is none. */
export type MetricsEndpoint = { url: string } | { off: string };

/**
 * Installs the SDK's runtime with a Prometheus endpoint at `bindAddress` (GET /metrics): the SDK's metrics, and the
 * service's own (ciba_*: workflows/metrics.ts, and the activities'), counters with Prometheus' `_total` suffix. Must run
 * before any connection or worker exists. When the address cannot be bound (another worker on this machine has it),
 * the worker runs without the endpoint and says so, rather than not at all.
 */
export function installMetrics(bindAddress: string | undefined): MetricsEndpoint {
  if (!bindAddress) return { off: 'CIBA_METRICS_ADDRESS is empty' };
  try {
    Runtime.install({
      telemetryOptions: {
        metrics: {
          prometheus: { bindAddress, countersTotalSuffix: true, histogramBucketOverrides: HISTOGRAM_BUCKETS },
        },
      },
    });
  } catch (error) {
    return { off: `cannot serve metrics at ${bindAddress}: ${(error as Error).message}` };
  }
  const host = bindAddress.replace(/:\d+$/, '');
  const port = /:(\d+)$/.exec(bindAddress)![1];
  const shown = host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host;
  return { url: `http://${shown}:${port}/metrics` };
}

/**
 * The activities the approval workflows call: the CIBA protocol (ping mode: with its wake-ups), the worker's settings,
 * the per-user ask gate, and the approvals' metrics reports. Shared by the standalone worker and a team's own
 * (withApprovals).
 */
export function approvalActivities(ciba: CibaClient, config: WorkerConfig, ping?: PingSettings) {
  return {
    ...createCibaActivities(ciba, config.providerProfile, ping),
    ...createWorkerSettingsActivities({ pollingMode: config.pollingMode, compactTiers: config.compactTiers }),
    ...createApprovalMetricsActivities(),
    ...createUserAskActivities({
      gateKey: config.temporal.payloadCodec.derivedKeys(userGateKeyFrom)[0]!,
      limits: config.userAskLimits,
    }),
  };
}

export interface RunningWorker {
  /** The approval workflows' Worker, on CIBA_TASK_QUEUE. */
  worker: Worker;
  /** The sample agent's Worker, on CIBA_AGENT_TASK_QUEUE (unless `off`). */
  agentWorker?: Worker;
  /** Ping mode: the notification endpoint's URL. */
  notificationUrl?: string;
  /** Resolves once the worker has shut down (SIGINT/SIGTERM or worker.shutdown()) and everything is closed. */
  run(): Promise<void>;
}

/**
 * The worker's slots, pollers and shutdown grace: the approval worker's, and the benchmark's floor worker's
 * (bench/fleet/floor-worker.ts), so that both run with the same settings.
 */
export function workerTuning(config: Pick<WorkerConfig, 'maxConcurrentActivities'>) {
  return {
    maxConcurrentActivityTaskExecutions: config.maxConcurrentActivities,
    // New approvals arrive on the task queue's non-sticky part: by default 2 of 10 pollers wait there, and a burst of
    // starts queues behind them (about 30 first workflow tasks a second, whatever the CPU). Half of 20 here.
    maxConcurrentWorkflowTaskPolls: 20,
    nonStickyToStickyPollRatio: 0.5,
    // Activities are short HTTP calls (compact polling ones resume from their heartbeat on another worker); let
    // in-flight ones finish on shutdown.
    shutdownGraceTime: '20s',
  } satisfies Partial<WorkerOptions>;
}

export async function createWorker(config: WorkerConfig): Promise<RunningWorker> {
  const connection = await connectWithToken(config.temporal.connection, config.temporal.credentials, (options) =>
    NativeConnection.connect(options),
  );
  await checkSearchAttributes(connection, config.temporal.namespace);
  const ciba = await CibaClient.create(config.ciba);
  const notificationKeys = config.temporal.payloadCodec.derivedKeys(notificationKeyFrom);
  const ping: PingSettings | undefined = config.notificationEndpoint && {
    notificationKey: notificationKeys[0]!,
    wakeups: new PingWakeups(),
  };
  // Opt-in (an OTLP endpoint is set): the SDK's OpenTelemetry interceptors after the worker's own, and their sink.
  const tracing = config.tracing && startTracing(config.tracing);
  const activities = approvalActivities(ciba, config, ping);
  const shared = {
    connection,
    namespace: config.temporal.namespace,
    dataConverter: workerDataConverter(config.temporal),
    interceptors: tracing ? tracing.interceptors(workerInterceptors) : workerInterceptors,
    ...(tracing && { sinks: tracing.sinks }),
    ...workerTuning(config),
    // Worker Versioning when CIBA_WORKER_DEPLOYMENT_NAME and CIBA_WORKER_BUILD_ID are set: AUTO_UPGRADE (docs/deploys.md).
    workerDeploymentOptions: workerDeploymentOptions(config.workerDeployment),
    bundlerOptions: approvalBundlerOptions(),
    // A compact worker's waiting approvals need not stay cached (worker/config.ts, docs/waiting-costs.md).
    ...(config.maxCachedWorkflows !== undefined && { maxCachedWorkflows: config.maxCachedWorkflows }),
  } satisfies Partial<WorkerOptions>;
  // Every new workflow evaluates its bundle's modules again: the approvals' bundle holds the approval workflows only,
  // and the sample agent runs on a Worker of its own (docs/bench-start-costs.md).
  const worker = await Worker.create({
    ...shared,
    taskQueue: config.temporal.taskQueue,
    workflowsPath: require.resolve('../workflows/approval-workflows'),
    // The payments too: the pay-invoice agent (agents/pay-invoice) pays through the approvals' task queue.
    activities: { ...activities, ...createPaymentActivities(config.paymentsApiUrl, config.ciba.httpTimeoutMs) },
  });
  const agentWorker =
    config.temporal.agentTaskQueue === undefined
      ? undefined
      : await Worker.create({
          ...shared,
          taskQueue: config.temporal.agentTaskQueue,
          workflowsPath: require.resolve('../workflows'),
          activities: {
            ...activities, // for an agent started without approvalTaskQueue: its approval runs here
            ...createPaymentActivities(config.paymentsApiUrl, config.ciba.httpTimeoutMs),
          },
        });
  let notifications: NotificationServer | undefined;
  if (config.notificationEndpoint && ping) {
    // Signals go through a client on the worker's connection with the clients' (encrypting) data converter: the
    // worker's interceptors refuse unencrypted signal inputs.
    const client = new Client({
      connection,
      namespace: config.temporal.namespace,
      dataConverter: config.temporal.dataConverter,
    });
    const signal = signalApproval(client);
    notifications = await startNotificationServer({
      ...config.notificationEndpoint,
      key: notificationKeys,
      signal: async (workflowId, authReqId) => {
        ping.wakeups.wake(workflowId, authReqId); // compact polling in this process polls at once
        await signal(workflowId, authReqId);
      },
    });
  }
  const workers = agentWorker ? [worker, agentWorker] : [worker];
  return {
    worker,
    agentWorker,
    notificationUrl: notifications?.url,
    async run() {
      try {
        // Either one stopping (a signal stops both; worker.shutdown() stops one) stops the other.
        const ended = await Promise.allSettled(
          workers.map((w) =>
            w.run().finally(() => {
              for (const other of workers) if (other.getState() === 'RUNNING') other.shutdown();
            }),
          ),
        );
        for (const end of ended) if (end.status === 'rejected') throw end.reason;
      } finally {
        await notifications?.close();
        await ciba.close();
        await connection.close();
        await tracing?.shutdown(); // exports the spans still buffered
      }
    },
  };
}

/** Fails at start, not on the first workflow task, when the namespace lacks the project's search attributes. */
async function checkSearchAttributes(connection: NativeConnection, namespace: string): Promise<void> {
  let registered: Record<string, unknown>;
  try {
    const response = await connection.operatorService.listSearchAttributes({ namespace });
    registered = response.customAttributes ?? {};
  } catch {
    return; // Not allowed to list them (e.g. Temporal Cloud API keys without that permission): cannot check.
  }
  const missing = SEARCH_ATTRIBUTES.filter((sa) => !(sa.name in registered));
  if (missing.length) {
    throw new Error(
      `namespace "${namespace}" lacks search attributes ${missing.map((m) => m.name).join(', ')}; register them with:\n` +
        missing
          .map(
            (m) =>
              `  temporal operator search-attribute create --namespace ${namespace} --name ${m.name} --type ${m.type}`,
          )
          .join('\n'),
    );
  }
}

/**
 * `ciba-temporal/worker`: run the approval workflows and activities in a team's own worker, or the standalone worker.
 *
 *   // the team's workflows file (its workflowsPath) re-exports the approval workflows beside its own:
 *   export { cibaApproval, cibaUserAsks } from 'ciba-temporal/workflow';
 *   export { myAgent } from './my-agent';
 *
 *   // the team's worker
 *   const approvals = await withApprovals({ connection, taskQueue, workflowsPath: require.resolve('./workflows'),
 *                                           activities: myActivities });
 *   const worker = await Worker.create(approvals.options);
 *   try { await worker.run(); } finally { await approvals.close(); }
 *
 * Settings come from the environment, as for the standalone worker (CIBA_*, TEMPORAL_*: loadWorkerConfig), or pass a
 * WorkerConfig. Standalone: the `ciba-worker` command, or `createWorker(loadWorkerConfig())` then `run()`.
 */
import type { WorkerOptions } from '@temporalio/worker';
import { CibaClient } from '../activities/ciba-protocol';
import { workerDataConverter } from '../common/config';
import { loadWorkerConfig, type WorkerConfig } from './config';
import { startTracing } from './tracing';
import { approvalActivities, workerInterceptors } from './worker';
import { approvalBundlerOptions } from './bundler-options';
import { approvalWorkerDeployment } from './deployment';

export { createWorker, installMetrics, workerInterceptors, HISTOGRAM_BUCKETS } from './worker';
export type { MetricsEndpoint, RunningWorker } from './worker';
export { loadWorkerConfig, type WorkerConfig } from './config';
export { ConfigError } from '../common/config';

/** The package's workflows only (cibaApproval, cibaUserAsks): the workflowsPath of a worker that runs only approvals. */
export const approvalWorkflowsPath: string = require.resolve('../workflows/approval-workflows');

/** What withApprovals returns: the team's worker options with the approvals added, and what to close after the run. */
export interface ApprovalWorkerParts {
  options: WorkerOptions;
  /** Closes the CIBA client (its HTTP connections) and flushes tracing: call after the worker has stopped. */
  close(): Promise<void>;
}

/**
 * Adds the approval workflows' needs to a team's worker options: the CIBA activities (with the per-user ask gate), the
 * data converter with the payload codec, the interceptors that refuse unencrypted or foreign-key inputs (before the
 * team's own), and OpenTelemetry when configured. Without workflowsPath or workflowBundle, the worker runs the
 * package's approval workflows only; with one, that bundle must export `cibaApproval` and `cibaUserAsks` (re-export
 * them from `ciba-temporal/workflow`). The options' namespace, when set, must be the configured one.
 *
 * Worker Versioning (docs/deploys.md): with CIBA_WORKER_DEPLOYMENT_NAME and CIBA_WORKER_BUILD_ID set, the options get
 * `workerDeploymentOptions` for that version (AUTO_UPGRADE by default) unless they have their own, which must then
 * name the same version. A worker that runs approvals must default to AUTO_UPGRADE: PINNED is refused.
 *
 * Ping mode (CIBA_NOTIFICATION_*) needs the notification endpoint of the standalone worker: refused here.
 */
export async function withApprovals(
  options: WorkerOptions | Omit<WorkerOptions, 'workflowsPath' | 'workflowBundle'>,
  config: WorkerConfig = loadWorkerConfig(),
): Promise<ApprovalWorkerParts> {
  if (config.notificationEndpoint) {
    throw new Error('withApprovals: ping mode (CIBA_NOTIFICATION_*) runs only in the standalone worker (createWorker)');
  }
  if (options.dataConverter) {
    throw new Error(
      "withApprovals: the worker's data converter is the approvals' (payload codec): do not pass dataConverter",
    );
  }
  if (options.namespace !== undefined && options.namespace !== config.temporal.namespace) {
    throw new Error(
      `withApprovals: the worker's namespace "${options.namespace}" is not the configured "${config.temporal.namespace}"`,
    );
  }
  const workerDeployment = approvalWorkerDeployment(options.workerDeploymentOptions, config.workerDeployment);
  const ciba = await CibaClient.create(config.ciba);
  const activities = approvalActivities(ciba, config);
  const own = options.activities ?? {};
  const clash = Object.keys(activities).filter((name) => name in own);
  if (clash.length) {
    await ciba.close();
    throw new Error(`withApprovals: the worker's activities already have ${clash.join(', ')}`);
  }
  const theirs = options.interceptors ?? {};
  const interceptors = {
    ...theirs,
    workflowModules: [...(workerInterceptors.workflowModules ?? []), ...(theirs.workflowModules ?? [])],
    activity: [...(workerInterceptors.activity ?? []), ...(theirs.activity ?? [])],
  };
  const tracing = config.tracing && startTracing(config.tracing);
  const hasWorkflows = 'workflowsPath' in options || 'workflowBundle' in options;
  return {
    options: {
      ...options,
      namespace: config.temporal.namespace,
      ...(!hasWorkflows && { workflowsPath: approvalWorkflowsPath }),
      activities: { ...own, ...activities },
      ...(workerDeployment && { workerDeploymentOptions: workerDeployment }),
      dataConverter: workerDataConverter(config.temporal),
      interceptors: tracing ? tracing.interceptors(interceptors) : interceptors,
      ...(tracing && { sinks: { ...options.sinks, ...tracing.sinks } }),
      // The approvals' input rules are built once per workflow thread, not per workflow (docs/bench-start-costs.md).
      bundlerOptions: approvalBundlerOptions(options.bundlerOptions),
    },
    async close() {
      await ciba.close();
      await tracing?.shutdown();
    },
  };
}

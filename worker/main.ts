/**
 * `npm run worker`: runs the approval worker until SIGINT/SIGTERM, then shuts down gracefully
 * (in-flight activities get shutdownGraceTime to finish; workflows resume on any other worker).
 */
import { ConfigError } from '../common/config';
import { loadWorkerConfig } from './config';
import { createWorker, installMetrics } from './worker';

async function main(): Promise<void> {
  const config = loadWorkerConfig();
  // Before any connection: the runtime (and its Prometheus endpoint) is installed once, for the process.
  const metrics = installMetrics(config.metricsAddress);
  console.error(
    'url' in metrics ? `ciba worker: metrics at ${metrics.url}` : `ciba worker: no metrics (${metrics.off})`,
  );
  const { worker, run, notificationUrl } = await createWorker(config);
  console.error(
    `ciba worker: task queue "${config.temporal.taskQueue}", namespace "${config.temporal.namespace}", provider ${config.ciba.issuer.href}` +
      (config.temporal.agentTaskQueue ? `, sample agent on "${config.temporal.agentTaskQueue}"` : '') +
      (notificationUrl ? `, ping notifications at ${notificationUrl}` : '') +
      (config.workerDeployment
        ? `, deployment "${config.workerDeployment.deploymentName}" build "${config.workerDeployment.buildId}" (AUTO_UPGRADE)`
        : ''),
  );
  await run();
  console.error(`ciba worker: stopped (${worker.getState()})`);
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? `ciba worker: ${error.message}` : error);
  process.exit(1);
});

/**
 * Build B's worker in the rolling-upgrade test: a team's own worker, through `withApprovals` (ciba-temporal/worker),
 * running test/rolling-upgrade/workflows-b.ts. Its deployment and build come from the environment, as the standalone
 * worker's (CIBA_WORKER_DEPLOYMENT_NAME, CIBA_WORKER_BUILD_ID). Stops on SIGINT/SIGTERM (the SDK's default signals).
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { loadWorkerConfig, withApprovals } from '../../worker/package';

async function main(): Promise<void> {
  const config = loadWorkerConfig();
  const connection = await NativeConnection.connect(config.temporal.connection);
  const approvals = await withApprovals(
    {
      connection,
      taskQueue: config.temporal.taskQueue,
      workflowsPath: require.resolve('./workflows-b'),
      shutdownGraceTime: '20s', // as the standalone worker's
    },
    config,
  );
  try {
    const worker = await Worker.create(approvals.options);
    const { buildId, deploymentName } = approvals.options.workerDeploymentOptions?.version ?? {};
    console.error(
      `ciba worker: task queue "${config.temporal.taskQueue}", deployment "${deploymentName}" build "${buildId}"`,
    );
    await worker.run();
  } finally {
    await approvals.close();
    await connection.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

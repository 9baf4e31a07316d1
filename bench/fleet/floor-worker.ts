/**
 * The floor's worker process (bench/fleet/floor.ts starts it): the floor workflow alone in its bundle, its one
 * activity, and otherwise the approval worker's own settings: the same configuration (worker/config.ts, from the
 * same environment), the same connection (a token where the server wants one), the same data converter (payloads
 * encrypted with the same key), the same slots and pollers (workerTuning). No interceptors, no metrics endpoint.
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { connectWithToken } from '../../common/client-credentials-token';
import { workerDataConverter } from '../../common/config';
import { loadWorkerConfig } from '../../worker/config';
import { workerTuning } from '../../worker/worker';
import { createFloorActivities } from './floor-activities';

async function main(): Promise<void> {
  const config = loadWorkerConfig();
  const connection = await connectWithToken(config.temporal.connection, config.temporal.credentials, (options) =>
    NativeConnection.connect(options),
  );
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowsPath: require.resolve('./floor-workflow'),
    activities: createFloorActivities(config.ciba.httpTimeoutMs),
    dataConverter: workerDataConverter(config.temporal),
    ...workerTuning(config),
  });
  // The line bench/fleet/stack.ts waits for, as the approval worker's.
  console.error(`ciba worker: task queue "${config.temporal.taskQueue}" (floor workflow)`);
  try {
    await worker.run();
  } finally {
    await connection.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

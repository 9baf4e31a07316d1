/**
 * Builds the worker: the approval and sample agent workflows, and the activities wired to one CIBA client.
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { createCibaActivities } from '../activities/activities';
import { CibaClient } from '../activities/ciba-protocol';
import { createPaymentActivities } from '../activities/payments';
import { SEARCH_ATTRIBUTES } from '../common/search-attributes';
import type { WorkerConfig } from './config';

export interface RunningWorker {
  worker: Worker;
  /** Resolves once the worker has shut down (SIGINT/SIGTERM or worker.shutdown()) and everything is closed. */
  run(): Promise<void>;
}

export async function createWorker(config: WorkerConfig): Promise<RunningWorker> {
  const connection = await NativeConnection.connect(config.temporal.connection);
  await checkSearchAttributes(connection, config.temporal.namespace);
  const ciba = await CibaClient.create(config.ciba);
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowsPath: require.resolve('../workflows'),
    activities: {
      ...createCibaActivities(ciba, config.providerProfile),
      ...createPaymentActivities(config.paymentsApiUrl, config.ciba.httpTimeoutMs),
    },
    dataConverter: config.temporal.dataConverter,
    // Activities are short HTTP calls; let in-flight ones finish on shutdown.
    shutdownGraceTime: '20s',
  });
  return {
    worker,
    async run() {
      try {
        await worker.run();
      } finally {
        await ciba.close();
        await connection.close();
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
        missing.map((m) => `  temporal operator search-attribute create --namespace ${namespace} --name ${m.name} --type ${m.type}`).join('\n'),
    );
  }
}

/**
 * The pay-invoice agent's worker: runs the agent workflow (agents/pay-invoice/workflows.ts) on its own task queue,
 * and its model calls as activities (AiSdkPlugin, with the model from agents/pay-invoice/model.ts). Approvals and the
 * payment itself run on the approval worker's task queue (CIBA_TASK_QUEUE), which holds the CIBA client credentials.
 *
 * Same payload key and data converter as the approval worker (common/config.ts): the agent's inputs, prompts, model
 * answers and the approvals it starts are encrypted; it refuses input that is not (workflows/interceptors.ts).
 *
 *   npm run agent:worker        (Node >= 22.12: started under the project's Node 24 by devstack/node24-run.ts)
 *
 * Environment: Temporal's (TEMPORAL_ADDRESS, ...), CIBA_PAYLOAD_KEY, CIBA_TASK_QUEUE (the approval worker's),
 * CIBA_AGENT_TASK_QUEUE (default ciba-agent-pay-invoice), and the model's (model.ts).
 */
import type { ProviderV4 } from '@ai-sdk/provider';
import { AiSdkPlugin } from '@temporalio/ai-sdk';
import { NativeConnection, Worker } from '@temporalio/worker';
import { connectWithToken } from '../../common/client-credentials-token';
import { ConfigError, temporalSettings, workerDataConverter, type TemporalSettings } from '../../common/config';
import { workerInterceptors } from '../../worker/worker';
import { agentModel } from './model';

export const DEFAULT_AGENT_TASK_QUEUE = 'ciba-agent-pay-invoice';

/** The agent's task queue: CIBA_AGENT_TASK_QUEUE, else ciba-agent-pay-invoice. */
export function agentTaskQueue(env: NodeJS.ProcessEnv = process.env): string {
  return env.CIBA_AGENT_TASK_QUEUE?.trim() || DEFAULT_AGENT_TASK_QUEUE;
}

export interface PayInvoiceWorkerOptions {
  connection: NativeConnection;
  settings: Pick<TemporalSettings, 'namespace' | 'payloadCodec'>;
  taskQueue: string;
  /** The model's provider: the workflow asks it for one language model (PAY_INVOICE_MODEL_ID). */
  modelProvider: ProviderV4;
}

export async function createPayInvoiceWorker(options: PayInvoiceWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.settings.namespace,
    taskQueue: options.taskQueue,
    workflowsPath: require.resolve('./workflows'),
    // Model calls as activities; also bundles the Web API polyfills `ai` needs in the workflow sandbox.
    plugins: [new AiSdkPlugin({ modelProvider: options.modelProvider })],
    dataConverter: workerDataConverter(options.settings),
    interceptors: workerInterceptors,
  });
}

async function main(): Promise<void> {
  const settings = temporalSettings();
  const taskQueue = agentTaskQueue();
  const model = agentModel();
  const connection = await connectWithToken(settings.connection, settings.credentials, (options) =>
    NativeConnection.connect(options),
  );
  try {
    const worker = await createPayInvoiceWorker({ connection, settings, taskQueue, modelProvider: model.provider });
    console.error(
      `pay-invoice agent worker: task queue "${taskQueue}", namespace "${settings.namespace}", ` +
        `approvals on "${settings.taskQueue}", model ${model.description}, Node ${process.versions.node}`,
    );
    await worker.run();
    console.error(`pay-invoice agent worker: stopped (${worker.getState()})`);
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof ConfigError ? `pay-invoice agent worker: ${error.message}` : error);
    process.exit(1);
  });
}

/**
 * A worker process on its own task queue and the two clients a test uses with it: the ApprovalClient (what an agent
 * does) and the raw Temporal client (status queries, histories). Per test (start/stop) or per file (use*Fixture).
 */
import type { Client } from '@temporalio/client';
import type { ApprovalClient } from '../../client/approvals';
import type { ManagedProcess } from '../../devstack/ts-process';
import {
  connectClient,
  Device,
  rawClient,
  stackEnv,
  startProvider,
  startWorker,
  uniqueTaskQueue,
  type StartedProvider,
} from './stack';

export interface WorkerWithClients {
  env: Record<string, string>;
  /** The worker running now: a test that kills it may put its replacement here, so that stop stops that one. */
  worker: ManagedProcess;
  approvals: ApprovalClient;
  temporal: Client;
}

/** Starts a worker for `env` and connects both clients. */
export async function startWorkerWithClients(
  env: Record<string, string>,
  workerName: string,
): Promise<WorkerWithClients> {
  const running: Partial<WorkerWithClients> = { env, worker: await startWorker(env, workerName) };
  try {
    running.approvals = await connectClient(env);
    running.temporal = await rawClient(env);
  } catch (error) {
    await stopWorkerWithClients(running);
    throw error;
  }
  return running as WorkerWithClients;
}

/** Closes the clients, then stops the worker with `signal`. Skips whatever was never started. */
export async function stopWorkerWithClients(
  running: Partial<WorkerWithClients>,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<void> {
  await running.approvals?.close();
  await running.temporal?.connection.close();
  await running.worker?.kill(signal);
}

/**
 * A worker and clients for one test file, against the shared stack, with `env` on top (registers beforeAll/afterAll).
 * `fixture.env` is there at once; the rest once beforeAll has run.
 */
export function useWorkerFixture(name: string, env: Record<string, string> = {}): WorkerWithClients {
  const fixture = { env: stackEnv(uniqueTaskQueue(name), env) } as WorkerWithClients;
  beforeAll(async () => {
    Object.assign(fixture, await startWorkerWithClients(fixture.env, `worker-${name}`));
  });
  afterAll(() => stopWorkerWithClients(fixture));
  return fixture;
}

export interface ProviderFixture extends WorkerWithClients {
  /** The file's own local provider: the worker's issuer. */
  provider: StartedProvider;
  /** The user's device on it. */
  device: Device;
}

/** Like useWorkerFixture, with the file's own local provider (started with `providerEnv`) instead of the shared one. */
export function useProviderFixture(
  name: string,
  providerEnv: Record<string, string>,
  env: Record<string, string> = {},
): ProviderFixture {
  const fixture = { env: stackEnv(uniqueTaskQueue(name), env) } as ProviderFixture;
  beforeAll(async () => {
    fixture.provider = await startProvider(providerEnv);
    fixture.device = new Device(fixture.provider.issuer);
    fixture.env.CIBA_ISSUER = fixture.provider.issuer;
    Object.assign(fixture, await startWorkerWithClients(fixture.env, `worker-${name}`));
  });
  afterAll(async () => {
    await stopWorkerWithClients(fixture);
    await fixture.provider?.kill('SIGTERM');
  });
  return fixture;
}

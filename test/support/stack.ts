/**
 * The real local stack for integration tests: a Temporal dev server and the local CIBA provider (started once, in
 * global-setup.ts), workers started per test file on their own task queues, and helpers that act as the user's
 * device over the provider's HTTP API.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { generatePayloadKey } from '../../common/payload-codec';
import { agentTaskQueueFor, temporalSettings } from '../../common/config';
import { ApprovalClient, connectTemporalClient } from '../../client/approvals';
import type { RequestLogEntry, RequestLogFilter } from '../../provider/request-log';
import { REPO_ROOT, startTsProcess, type ManagedProcess } from '../../devstack/ts-process';
import { HANG_DETECTOR_MS } from './wait';

export const TEST_LOG_DIR = path.join(REPO_ROOT, '.data', 'test-logs');

/** Set by global-setup.ts for every test file. */
export interface SharedStack {
  temporalAddress: string;
  issuer: string;
  payloadKey: string;
}

export const STACK_ENV = 'CIBA_TEST_STACK';

export function sharedStack(): SharedStack {
  const value = process.env[STACK_ENV];
  if (!value) throw new Error(`${STACK_ENV} is not set: run the tests with jest's globalSetup (npm test)`);
  return JSON.parse(value) as SharedStack;
}

export const CLIENT_ID = 'ciba-agent';
export const CLIENT_SECRET = 'ciba-agent-secret';

export function newPayloadKey(): string {
  return generatePayloadKey();
}

/** The environment a worker or client of this stack needs, on its own task queue. */
export function stackEnv(
  taskQueue: string,
  overrides: Record<string, string> = {},
  stack = sharedStack(),
): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: stack.temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    CIBA_TASK_QUEUE: taskQueue,
    CIBA_ISSUER: stack.issuer,
    CIBA_CLIENT_ID: CLIENT_ID,
    CIBA_CLIENT_SECRET: CLIENT_SECRET,
    CIBA_PAYLOAD_KEY: stack.payloadKey,
    // The local provider follows Auth0's rules.
    CIBA_PROVIDER_PROFILE: 'auth0',
    // No Prometheus endpoint unless a test asks for one (test/metrics.test.ts): workers would share one port.
    CIBA_METRICS_ADDRESS: '',
    // Tests ask alice and bob often, from many approvals at once: the per-user ask gate's limits are tested on their
    // own (test/replay-and-flood.test.ts), with the defaults' order of magnitude.
    CIBA_USER_MAX_PENDING_ASKS: '1000',
    CIBA_USER_MAX_ASKS_PER_HOUR: '100000',
    // No sample agent's Worker (a second workflow bundle at every worker start) unless the test starts the agent.
    CIBA_AGENT_TASK_QUEUE: 'off',
    ...overrides,
  };
}

/** stackEnv overrides for a worker that also runs the sample agent, on its default task queue (agentQueues). */
export const WITH_SAMPLE_AGENT: Record<string, string> = { CIBA_AGENT_TASK_QUEUE: '' };

/**
 * Where a test starts the sample agent (workflows/payment-agent.ts): the worker's agent task queue, and, for the agent's
 * input, the approvals' task queue its approval runs on. The worker's env needs WITH_SAMPLE_AGENT.
 */
export function agentQueues(env: Record<string, string>): { taskQueue: string; approvalTaskQueue: string } {
  if (env.CIBA_AGENT_TASK_QUEUE === 'off') throw new Error('this worker runs no sample agent: add WITH_SAMPLE_AGENT');
  const approvalTaskQueue = env.CIBA_TASK_QUEUE!;
  return { taskQueue: env.CIBA_AGENT_TASK_QUEUE || agentTaskQueueFor(approvalTaskQueue), approvalTaskQueue };
}

export function uniqueTaskQueue(name: string): string {
  return `test-${name}-${randomUUID().slice(0, 8)}`;
}

export async function startWorker(env: Record<string, string>, name = 'worker'): Promise<ManagedProcess> {
  // A worker bundles the workflow code before it is ready: slow on a busy machine.
  return startTsProcess(name, 'worker/main.ts', env, /ciba worker: task queue/, {
    logDir: TEST_LOG_DIR,
    timeoutMs: HANG_DETECTOR_MS,
  });
}

export interface StartedProvider extends ManagedProcess {
  issuer: string;
  dataDir: string;
}

export async function startProvider(env: Record<string, string> = {}): Promise<StartedProvider> {
  const dataDir = env.IDP_DATA_DIR ?? mkdtempSync(path.join(os.tmpdir(), 'ciba-idp-'));
  const process = await startTsProcess(
    'provider',
    'provider/main.ts',
    { IDP_PORT: '0', IDP_POLL_INTERVAL: '1', ...env, IDP_DATA_DIR: dataDir },
    /"event":"ready"/,
    { logDir: TEST_LOG_DIR, timeoutMs: HANG_DETECTOR_MS },
  );
  const ready = JSON.parse(process.readyLine.slice(process.readyLine.indexOf('{'))) as { issuer: string };
  return { ...process, issuer: ready.issuer, dataDir };
}

/** An ApprovalClient (and the raw Temporal client) for `env`. */
export async function connectClient(env: Record<string, string>): Promise<ApprovalClient> {
  return ApprovalClient.connect(temporalSettings(env));
}

export async function rawClient(env: Record<string, string>): Promise<Client> {
  return connectTemporalClient(temporalSettings(env));
}

/** A pending request as the user's device sees it. */
export interface DeviceRequest {
  auth_req_id: string;
  user: string;
  binding_message: string;
  authorization_details: unknown[] | null;
  scope: string;
  expires_at: string;
}

/** The user's authentication device, over the provider's device API. */
export class Device {
  constructor(readonly issuer: string) {}

  async pending(): Promise<DeviceRequest[]> {
    const response = await fetch(`${this.issuer}/device/requests`);
    if (!response.ok) throw new Error(`GET /device/requests: HTTP ${response.status}`);
    return (await response.json()) as DeviceRequest[];
  }

  /** Waits until a request with this binding message is pending on the device. */
  async waitFor(bindingMessage: string, timeoutMs = HANG_DETECTOR_MS): Promise<DeviceRequest> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const request = (await this.pending()).find((r) => r.binding_message === bindingMessage);
      if (request) return request;
      await sleep(200);
    }
    throw new Error(`no pending request with binding message "${bindingMessage}" after ${timeoutMs} ms`);
  }

  async decide(authReqId: string, decision: 'approve' | 'deny'): Promise<void> {
    const response = await fetch(`${this.issuer}/device/requests/${encodeURIComponent(authReqId)}/${decision}`, {
      method: 'POST',
    });
    if (!response.ok) throw new Error(`${decision} ${authReqId}: HTTP ${response.status} ${await response.text()}`);
  }
}

/** What the provider saw: its request log (GET /dev/log). */
export async function providerLog(issuer: string, filter: RequestLogFilter = {}): Promise<RequestLogEntry[]> {
  const query = new URLSearchParams(Object.entries(filter).filter(([, v]) => v !== undefined) as [string, string][]);
  const response = await fetch(`${issuer}/dev/log?${query}`);
  if (!response.ok) throw new Error(`GET /dev/log: HTTP ${response.status}`);
  return (await response.json()) as RequestLogEntry[];
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A binding message no other test uses (Auth0's rule: letters, digits, spaces, +-_.,:#). */
export function uniqueBindingMessage(prefix: string): string {
  return `${prefix} ${randomUUID().slice(0, 8)}`;
}

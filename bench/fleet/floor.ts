/**
 * One run of the floor (modes.ts FloorMode): N floor workflows (floor-workflow.ts) started at once, the same way and
 * with the same client as the approvals (one start call each, all in flight together), against a fresh provider (the
 * activity's GET goes to its discovery document) and a fresh worker process with the approval worker's settings
 * (floor-worker.ts). Measured as run.ts measures approvals: CPU and memory of every process from the burst until every
 * workflow closed (checked once a second by a visibility count, as run.ts checks), the server's action counter, and
 * per workflow its start call, its activity's start and end (the worker's clock, returned in the result) and its
 * close time on the server.
 */
import { randomUUID } from 'node:crypto';
import { ApprovalClient } from '../../client/approvals';
import { temporalSettings } from '../../common/config';
import type { FloorCallResult } from './floor-workflow';
import {
  countDelta,
  cpuDelta,
  cpuSnapshot,
  log,
  mapLimit,
  Sampler,
  scrapeActions,
  waitUntil,
  type PerRole,
} from './measure';
import type { FloorMode } from './modes';
import type { FleetOptions } from './options';
import type { RunRecord } from './records';
import { stackEnv, startProvider, startWorker, type BenchServer } from './stack';

export async function runFloor(
  options: FleetOptions,
  server: BenchServer,
  payloadKey: string,
  mode: FloorMode,
  n: number,
): Promise<RunRecord> {
  const timeoutMs = options.timeoutSeconds * 1000;
  const runId = randomUUID().slice(0, 8);
  const record: RunRecord = {
    mode,
    n,
    intervalSeconds: options.intervalSeconds,
    approvals: Array.from({ length: n }, (_, i) => ({ bindingMessage: `Floor ${runId} ${i}`, startCallMs: 0 })),
    cpu: {},
    peakRssMiB: {},
    lifetimePeakRssMiB: {},
    busiestCores: {},
    providerLog: [],
  };
  const provider = await startProvider(options.intervalSeconds);
  const taskQueue = `bench-fleet-floor-${runId}`;
  const env = stackEnv(server, provider.issuer, taskQueue, payloadKey);
  let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
  let approvals: ApprovalClient | undefined;
  let sampler: Sampler | undefined;
  try {
    worker = await startWorker(env, 'bench/fleet/floor-worker.ts');
    approvals = await ApprovalClient.connect(temporalSettings(env));
    const client = approvals.client;
    const url = `${provider.issuer}/.well-known/openid-configuration`;
    const pids: PerRole<number> = { worker: worker.pid, provider: provider.pid, server: server.pid };
    sampler = new Sampler(pids, server.parts);
    const cpuBefore = cpuSnapshot(pids, server.parts);
    const actionsBefore = await scrapeActions(server.metricsUrl);

    log(`floor n=${n}: starting ${n} workflows at once`);
    const burstStartMs = Date.now();
    await Promise.all(
      record.approvals.map(async (r, i) => {
        r.startCallMs = Date.now();
        try {
          const handle = await client.workflow.start('floorWorkflow', {
            taskQueue,
            workflowId: `floor-${runId}-${i}`,
            args: [url],
          });
          r.workflowId = handle.workflowId;
          r.startAckMs = Date.now();
        } catch (error) {
          r.outcome = `start failed: ${(error as Error).message}`;
        }
      }),
    );
    const burstEndMs = Date.now();
    const inQueue = `TaskQueue = "${taskQueue}"`;
    let lastSaid = Date.now();
    await waitUntil(
      async () => {
        const running = (await client.workflow.count(`${inQueue} AND ExecutionStatus = "Running"`)).count;
        const all = (await client.workflow.count(inQueue)).count;
        if (Date.now() - lastSaid > 10_000) {
          log(`floor n=${n}: ${running} of ${all} still running`);
          lastSaid = Date.now();
        }
        return all >= record.approvals.filter((r) => r.workflowId).length && running === 0 ? true : undefined;
      },
      `floor n=${n}: every workflow closed`,
      timeoutMs,
    );
    const doneMs = Date.now();
    const cpuAfter = cpuSnapshot(pids, server.parts);
    const actionsAfter = await scrapeActions(server.metricsUrl);
    record.cpu = cpuDelta(cpuBefore, cpuAfter);
    // The floor's start is its whole life: start, one activity, completion.
    record.startCpu = record.cpu;
    Object.assign(record, sampler.finish(pids));
    record.phases = {
      burstStartMs,
      burstEndMs,
      allPendingMs: doneMs,
      steadyFromMs: doneMs,
      decideStartMs: doneMs,
      decideEndMs: doneMs,
      doneMs,
    };
    log(`floor n=${n}: all closed ${((doneMs - burstStartMs) / 1000).toFixed(1)} s after the first start`);

    // After the measurement: each workflow's close time (visibility) and its activity's times (its result).
    const closeTimes = new Map<string, number>();
    for await (const info of client.workflow.list({ query: inQueue, pageSize: 1000 })) {
      if (info.closeTime) closeTimes.set(info.workflowId, info.closeTime.getTime());
    }
    await mapLimit(
      record.approvals.filter((r) => r.workflowId),
      20,
      async (r) => {
        r.resultMs = closeTimes.get(r.workflowId!);
        try {
          const result = (await client.workflow.getHandle(r.workflowId!).result()) as FloorCallResult;
          r.activityStartMs = result.startedMs;
          r.activityEndMs = result.endedMs;
          r.outcome = result.status === 200 ? 'completed' : `HTTP ${result.status}`;
        } catch (error) {
          r.outcome = `error: ${(error as Error).message}`;
        }
      },
    );
    record.temporal = {
      historyEvents: [],
      runsPerApproval: [],
      sampled: 0,
      sampleActions: new Map(),
      sampleActionsWhileWaiting: new Map(),
      sampleWaitingActionTimes: [],
      startSteps: [],
      serverActions: countDelta(actionsBefore, actionsAfter),
      serverActionsWhileWaiting: new Map(),
    };
    return record;
  } finally {
    sampler?.stop();
    await approvals?.close().catch(() => undefined);
    await worker?.stop();
    await provider.stop();
  }
}

/**
 * The lost-answer window: how long a provider's final answer to a poll (tokens, or access_denied) exists only in
 * flight. The provider has consumed the grant when it answers; until Temporal has durably recorded the pollToken
 * activity's completion, a worker or server death loses the answer (the next poll gets invalid_grant: ApprovalLost).
 *
 *   node --import tsx bench/lost-answer-window.ts [--approvals 40] [--concurrency 4] [--interval 1] [--in-memory]
 *
 * Starts the real local stack (Temporal dev server on a free port with a temporary SQLite file, or in memory with
 * --in-memory; the local provider as a child process; a worker in this process), runs N approvals, approves every
 * other one on the device API as soon as it is pending and denies the rest, then for each compares the provider's
 * request log time of the final answer with:
 *
 *   worker done        the worker's pollToken activity returned (SDK debug log "Activity completed"). Before this a
 *                      worker death loses the answer; the window for worker death closes once the completion reaches
 *                      the server, i.e. between this and the next figure.
 *   server recorded    ActivityTaskCompleted eventTime: the server accepted the completion (set just before it writes).
 *   persisted (<=)     the next WorkflowTaskStarted eventTime: an upper bound for the write (tasks go out after it).
 *   started (sanity)   ActivityTaskStarted eventTime of the same attempt: negative, the poll was sent before the answer.
 *
 * All processes run on this machine, so all times come from one clock. Prints figures; asserts nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { temporal as proto } from '@temporalio/proto';
import { ApprovalClient, ApprovalFailedError } from '../client/approvals';
import { temporalSettings } from '../common/config';
import { generatePayloadKey } from '../common/payload-codec';
import { startTemporalDevServer } from '../devstack/temporal-server';
import { loadWorkerConfig } from '../worker/config';
import { createWorker } from '../worker/worker';
import { isPending, waitForApprovalState } from '../test/support/approvals';
import { Device, providerLog, stackEnv, startProvider, TEST_LOG_DIR, uniqueTaskQueue } from '../test/support/stack';

const EventType = proto.api.enums.v1.EventType;
const MEASURES = ['worker done', 'server recorded', 'persisted (<=)', 'started (sanity)'] as const;
type Sample = { kind: 'approved' | 'denied' } & Record<(typeof MEASURES)[number], number | undefined>;

function parseArgs(argv: string[]) {
  const options = { approvals: 40, concurrency: 4, interval: 1, inMemory: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v <= 0) throw new Error(`${arg} needs a positive whole number`);
      return v;
    };
    if (arg === '--approvals') options.approvals = value();
    else if (arg === '--concurrency') options.concurrency = value();
    else if (arg === '--interval') options.interval = value();
    else if (arg === '--in-memory') options.inMemory = true;
    else throw new Error(`unknown argument ${arg} (use --approvals N, --concurrency N, --interval S, --in-memory)`);
  }
  return options;
}

/** When each workflow's last pollToken activity returned in this process's worker (from the SDK's debug log). */
const activityDone = new Map<string, number>();
Runtime.install({
  logger: new DefaultLogger('DEBUG', ({ level, message, meta }) => {
    if (message === 'Activity completed' && meta?.activityType === 'pollToken')
      activityDone.set(String(meta.workflowId), Date.now());
    // Denials end the workflow failed (ApprovalDenied): expected here, so not echoed.
    else if ((level === 'WARN' || level === 'ERROR') && message !== 'Workflow failed')
      process.stderr.write(`[worker] ${level} ${message}\n`);
  }),
});

const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
  t ? Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6 : undefined;

/** The final pollToken attempt in a history: when it started, when its completion was recorded, the next workflow task. */
function finalPoll(events: proto.api.history.v1.IHistoryEvent[]) {
  const scheduled = events
    .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'pollToken')
    .at(-1);
  const of = (e: { scheduledEventId?: unknown } | null | undefined) =>
    e != null && Number(e.scheduledEventId) === Number(scheduled?.eventId);
  const started = events.find((e) => of(e.activityTaskStartedEventAttributes));
  const completedAt = events.findIndex((e) => of(e.activityTaskCompletedEventAttributes));
  const nextTask = events
    .slice(completedAt + 1)
    .find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED);
  return {
    started: ms(started?.eventTime),
    completed: ms(events[completedAt]?.eventTime),
    nextTask: ms(nextTask?.eventTime),
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const loadAtStart = os.loadavg();
  const dbDir = mkdtempSync(path.join(os.tmpdir(), 'ciba-bench-temporal-'));
  const temporal = await startTemporalDevServer({
    port: 0,
    headless: true,
    dbFile: options.inMemory ? false : path.join(dbDir, 'dev.sqlite'),
    logFile: path.join(TEST_LOG_DIR, `bench-temporal-${Date.now()}.log`),
  });
  // Undone in reverse order: each process stops before its folder is removed.
  const stopping: Array<() => Promise<unknown>> = [
    async () => rmSync(dbDir, { recursive: true, force: true }),
    () => temporal.stop(),
  ];
  const stopAll = async () => {
    for (const stop of stopping.reverse()) await stop().catch((e: unknown) => console.error('while stopping:', e));
  };
  try {
    const provider = await startProvider({ IDP_POLL_INTERVAL: String(options.interval) });
    stopping.push(
      async () => rmSync(provider.dataDir, { recursive: true, force: true }),
      () => provider.kill(),
    );
    const env = stackEnv(
      uniqueTaskQueue('bench-window'),
      {},
      { temporalAddress: temporal.address, issuer: provider.issuer, payloadKey: generatePayloadKey() },
    );
    const worker = await createWorker(loadWorkerConfig(env));
    const running = worker.run();
    stopping.push(async () => {
      if (worker.worker.getState() === 'RUNNING') worker.worker.shutdown();
      await running;
    });
    const approvals = await ApprovalClient.connect(temporalSettings(env));
    stopping.push(() => approvals.close());
    const device = new Device(provider.issuer);
    const runId = Date.now().toString(36);

    async function runOne(i: number): Promise<Sample> {
      const kind = i % 2 === 0 ? 'approved' : 'denied';
      const bindingMessage = `Bench ${runId} ${i}`;
      const { workflowId } = await approvals.start(
        { loginHint: 'alice@example.com', bindingMessage },
        { key: `bench-${runId}-${i}` },
      );
      const { authReqId } = await waitForApprovalState(approvals.client, workflowId, isPending, 60_000);
      await device.decide(authReqId!, kind === 'approved' ? 'approve' : 'deny');
      const outcome = await approvals.result(workflowId).then(
        () => 'approved',
        (e: unknown) =>
          e instanceof ApprovalFailedError && e.type === 'ApprovalDenied' ? 'denied' : `failed: ${String(e)}`,
      );
      if (outcome !== kind) throw new Error(`${workflowId}: expected ${kind}, got ${outcome}`);
      const log = await providerLog(provider.issuer, { authReqId });
      const answer = log.find((e) => e.endpoint === 'token' && (e.status === 200 || e.error === 'access_denied'));
      if (!answer) throw new Error(`${workflowId}: no final answer in the provider's request log`);
      const poll = finalPoll((await approvals.client.workflow.getHandle(workflowId).fetchHistory()).events ?? []);
      const since = (t: number | undefined) => (t === undefined ? undefined : t - answer.atMs);
      return {
        kind,
        'worker done': since(activityDone.get(workflowId)),
        'server recorded': since(poll.completed),
        'persisted (<=)': since(poll.nextTask),
        'started (sanity)': since(poll.started),
      };
    }

    const samples: Sample[] = [];
    let next = 0;
    const startedAt = Date.now();
    await Promise.all(
      Array.from({ length: Math.min(options.concurrency, options.approvals) }, async () => {
        while (next < options.approvals) samples.push(await runOne(next++));
      }),
    );
    const elapsedS = (Date.now() - startedAt) / 1000;
    const loadAtEnd = os.loadavg();

    const fmt = (n: number) => n.toFixed(1).padStart(8);
    console.log(
      `\nlost-answer window: ms from the provider's final answer (request log) to each moment; ${samples.length} approvals in ${elapsedS.toFixed(0)} s`,
    );
    console.log(
      `polling interval ${options.interval} s, concurrency ${options.concurrency}, Temporal ${options.inMemory ? 'in memory' : 'SQLite file'}, ${os.cpus().length} CPUs`,
    );
    console.log(
      `load average (1/5/15 min): start ${loadAtStart.map((l) => l.toFixed(2)).join(' ')}, end ${loadAtEnd.map((l) => l.toFixed(2)).join(' ')}\n`,
    );
    console.log(
      `${'answer'.padEnd(9)}${'to'.padEnd(18)}${'N'.padStart(4)}${['p50', 'p90', 'p99', 'max'].map((h) => h.padStart(8)).join('')}`,
    );
    for (const kind of ['approved', 'denied'] as const) {
      for (const measure of MEASURES) {
        const values = samples
          .filter((s) => s.kind === kind)
          .flatMap((s) => s[measure] ?? [])
          .sort((a, b) => a - b);
        const figures = values.length
          ? [50, 90, 99, 100].map((p) => fmt(percentile(values, p))).join('')
          : '     (none)';
        console.log(`${kind.padEnd(9)}${measure.padEnd(18)}${String(values.length).padStart(4)}${figures}`);
      }
    }
  } finally {
    await stopAll();
  }
}

main().then(
  () => (process.exitCode ??= 0),
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);

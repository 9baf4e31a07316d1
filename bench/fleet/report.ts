/** The figures as tables: plain text on stdout, Markdown in BENCHMARKS.md. */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../../devstack/ts-process';
import { FAST_WINDOW_MS, type Figures, type Spread } from './analysis';
import { DOLLARS_PER_ACTION, type DayCount } from './approval-day';
import { sum, type PerRole, type Role } from './measure';

type Row = [figure: string, ...cells: string[]];
interface Table {
  head: string[];
  rows: Row[];
}

const dash = '–';
const num = (v: number | undefined, digits = 0) => (v === undefined || !Number.isFinite(v) ? dash : v.toFixed(digits));
const secs = (s: Spread, keys: Array<keyof Spread> = ['p50', 'p95', 'p99']) =>
  keys.every((k) => s[k] === undefined)
    ? dash
    : keys.map((k) => num(s[k] === undefined ? undefined : s[k]! / 1000, 2)).join(' / ');
const msCell = (s: Spread, keys: Array<keyof Spread>) =>
  keys.every((k) => s[k] === undefined) ? dash : keys.map((k) => num(s[k], 0)).join(' / ');
const roles = (v: PerRole<number>, list: Role[], digits: number) => list.map((r) => num(v[r], digits)).join(' / ');

const perApproval = (cpu: PerRole<number>, n: number): PerRole<number> =>
  Object.fromEntries(Object.entries(cpu).map(([role, seconds]) => [role, (seconds * 1000) / n]));

function resultsTable(figures: Figures[]): Table {
  const row = (name: string, cell: (f: Figures) => string): Row => [name, ...figures.map(cell)];
  return {
    head: ['figure', ...figures.map((f) => f.label)],
    rows: [
      row('approved / started', (f) => `${f.approved} / ${f.run.n}${f.ok ? '' : ' ✗'}`),
      row('lost · re-asked · uncertain', (f) => `${f.lost} · ${f.reAsked} · ${f.uncertain}`),
      row('other outcomes', (f) => [...f.otherOutcomes].map(([k, v]) => `${k}: ${v}`).join(', ') || dash),
      row('decision → result p50/p95/p99 (s)', (f) => secs(f.decisionToResultMs)),
      row('start → backchannel request p50/p95/p99 (s)', (f) => secs(f.startToAskMs)),
      row('starts acknowledged per s (burst)', (f) => num(f.startsPerSecond, 1)),
      row('backchannel requests answered per s (burst)', (f) => num(f.asksPerSecond, 1)),
      row('poll lateness p50/p99 (ms)', (f) => msCell(f.pollLatenessMs, ['p50', 'p99'])),
      row(
        'polls per s while waiting: achieved / asked',
        (f) => `${num(f.pollsPerSecond, 1)} / ${num(f.pollsPerSecondAsked, 1)}`,
      ),
      row(
        'polls in all (per approval) · slow_down',
        (f) => `${f.polls} (${num(f.polls / f.run.n, 1)}) · ${f.slowDowns}`,
      ),
      row('wall time burst → last result (s)', (f) => num(f.wallSeconds, 1)),
      row('CPU s: worker / server / provider / bench', (f) =>
        roles(f.cpuSeconds, ['worker', 'server', 'provider', 'bench'], 2),
      ),
      row('CPU per start, burst → all asked (ms): worker / server / provider / bench', (f) =>
        f.run.startCpu
          ? roles(perApproval(f.run.startCpu, f.run.n), ['worker', 'server', 'provider', 'bench'], 1)
          : dash,
      ),
      row('engine CPU per approval (ms)', (f) => num(f.engineCpuPerApprovalMs, 1)),
      row('engine CPU per poll, whole run (ms)', (f) => num(f.engineCpuPerPollMs, 2)),
      row('engine CPU per poll while waiting (ms)', (f) => num(f.waitingCpuPerPollMs, 2)),
      row('provider CPU per poll (ms)', (f) => num(f.providerCpuPerPollMs, 2)),
      row(
        'busiest 5 s in cores: worker / server / provider / all',
        (f) =>
          `${roles(f.run.busiestCores, ['worker', 'server', 'provider'], 2)} / ${num(f.run.busiestCores.all, 2)}` +
          `${f.providerSaturated ? ' provider SATURATED' : ''}${f.machineSaturated ? ' machine SATURATED' : ''}`,
      ),
      row('machine busy over the run (all cores)', (f) =>
        f.machineBusy === undefined ? dash : `${(f.machineBusy * 100).toFixed(0)} %`,
      ),
      row('RSS peak MiB: worker / server / provider / bench', (f) =>
        roles(f.run.peakRssMiB, ['worker', 'server', 'provider', 'bench'], 0),
      ),
      row('worker RSS peak over its life (MiB)', (f) => num(f.run.lifetimePeakRssMiB.worker, 0)),
      row('history events per approval (mean / max)', (f) =>
        f.historyEvents ? `${num(f.historyEvents.mean, 1)} / ${f.historyEvents.max}` : dash,
      ),
      row(
        'actions per approval: server count / history',
        (f) => `${num(f.actionsPerApproval, 1)} / ${num(f.actionsPerApprovalFromHistory, 1)}`,
      ),
      row(
        'actions per approval per hour waiting: server / history',
        (f) => `${num(f.actionsPerWaitingHour, 0)} / ${num(f.actionsPerWaitingHourFromHistory, 0)}`,
      ),
    ],
  };
}

/** Per run: actions per approval by type over the run (server count), and per hour of steady waiting (both ways). */
function actionLines(figures: Figures[]): string[] {
  const waitHours = (f: Figures) => (f.run.phases!.decideStartMs - f.run.phases!.steadyFromMs) / 3_600_000;
  const list = (counts: Map<string, number>, divisor: number, digits: number) =>
    [...counts]
      .sort((a, b) => b[1] - a[1])
      .map(([type, count]) => `${type.replace(/^(command_|grpc_)/, '')} ${num(count / divisor, digits)}`)
      .join(', ') || dash;
  return figures.flatMap((f) => {
    const t = f.run.temporal;
    if (!t || !f.run.phases) return [];
    return [
      `${f.label}: per approval, server count: ${list(t.serverActions, f.run.n, 1)}`,
      `${f.label}: per approval per hour of steady waiting, server count: ${list(t.serverActionsWhileWaiting, f.run.n * waitHours(f), 0)}; ` +
        `history sample: ${list(t.sampleActionsWhileWaiting, t.sampled * waitHours(f), 0)}`,
    ];
  });
}

/** Where start → backchannel request goes, per Temporal run (p50 / p99 ms of each step, sampled histories). */
function startStepLines(figures: Figures[]): string[] {
  return figures.flatMap((f) =>
    f.startSteps
      ? [
          `${f.label} (${f.run.temporal!.startSteps.length} sampled): ` +
            f.startSteps.map(({ step, ms }) => `${step} ${msCell(ms, ['p50', 'p99'])}`).join(', '),
        ]
      : [],
  );
}

/** Each mode's figure divided by the baseline's at the same size. */
function ratioTable(figures: Figures[]): Table | undefined {
  const pairs = figures.flatMap((f) => {
    const base = figures.find((b) => b.run.mode.kind === 'baseline' && b.run.n === f.run.n);
    return f.run.mode.kind === 'temporal' && base ? [{ f, base }] : [];
  });
  if (!pairs.length) return undefined;
  const ratio = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined || Math.abs(b) < 1e-9 ? dash : `${(a / b).toFixed(2)}×`;
  const row = (name: string, get: (f: Figures) => number | undefined): Row => [
    name,
    ...pairs.map(({ f, base }) => ratio(get(f), get(base))),
  ];
  const engineRss = (f: Figures) =>
    f.run.mode.kind === 'baseline'
      ? f.run.peakRssMiB.bench
      : sum([f.run.peakRssMiB.worker ?? 0, f.run.peakRssMiB.server ?? 0]);
  return {
    head: ['mode ÷ baseline', ...pairs.map(({ f }) => f.label)],
    rows: [
      row('decision → result p50', (f) => f.decisionToResultMs.p50),
      row('decision → result p99', (f) => f.decisionToResultMs.p99),
      row('start → backchannel request p50', (f) => f.startToAskMs.p50),
      row('start → backchannel request p99', (f) => f.startToAskMs.p99),
      row('polls per s achieved', (f) => f.pollsPerSecond),
      row('CPU per approval (worker + server ÷ bench process)', (f) => f.engineCpuPerApprovalMs),
      row('CPU per poll', (f) => f.engineCpuPerPollMs),
      row('CPU per poll while waiting', (f) => f.waitingCpuPerPollMs),
      row('provider CPU per poll', (f) => f.providerCpuPerPollMs),
      row('RSS peak (worker + server ÷ bench process)', engineRss),
    ],
  };
}

/**
 * Each Temporal mode's starts and hand-backs against the floor at the same N (issue 19's instrument): start →
 * backchannel request (the floor: → its activity), CPU per start (worker + server), and the result handed back (the
 * user's decision → result; the floor: its activity's end → result), each with its ratio to the floor's.
 */
function floorTable(figures: Figures[]): Table | undefined {
  const pairs = figures.flatMap((f) => {
    const floor = figures.find(
      (b) => b.run.mode.kind === 'floor' && b.run.n === f.run.n && b.run.serverName === f.run.serverName,
    );
    return f.run.mode.kind !== 'baseline' && floor ? [{ f, floor }] : [];
  });
  if (!pairs.length) return undefined;
  const cell = (value: number | undefined, base: number | undefined, digits: number, scale = 1) =>
    value === undefined
      ? dash
      : `${num(value / scale, digits)}${base === undefined || Math.abs(base) < 1e-9 ? '' : ` (${(value / base).toFixed(2)}×)`}`;
  const cpuPerStart = (f: Figures) => {
    const cpu = f.run.startCpu;
    return cpu?.worker !== undefined && cpu.server !== undefined
      ? { worker: (cpu.worker * 1000) / f.run.n, server: (cpu.server * 1000) / f.run.n }
      : undefined;
  };
  const row = (name: string, get: (f: Figures) => number | undefined, digits: number, scale = 1): Row => [
    name,
    ...pairs.map(({ f, floor }) => cell(get(f), get(floor), digits, scale)),
  ];
  return {
    head: ['× floor (same N, same run)', ...pairs.map(({ f }) => f.label)],
    rows: [
      row('start → request p50 (s) [floor: → activity]', (f) => f.startToAskMs.p50, 2, 1000),
      row('start → request p99 (s)', (f) => f.startToAskMs.p99, 2, 1000),
      [
        'CPU per start, worker + server (ms)',
        ...pairs.map(({ f, floor }) => {
          const [c, b] = [cpuPerStart(f), cpuPerStart(floor)];
          return c
            ? `${num(c.worker, 1)} + ${num(c.server, 1)}${b ? ` (${((c.worker + c.server) / (b.worker + b.server)).toFixed(2)}×)` : ''}`
            : dash;
        }),
      ],
      row('hand-back p50 (s): decision → result [floor: activity end → result]', (f) => f.handBackMs.p50, 2, 1000),
      row('hand-back p99 (s)', (f) => f.handBackMs.p99, 2, 1000),
    ],
  };
}

/** Each cluster run beside the dev server's run of the same mode and N (--cluster). */
function clusterTable(figures: Figures[]): Table | undefined {
  const pairs = figures.flatMap((f) => {
    if (f.run.serverName !== 'cluster') return [];
    const dev = figures.find(
      (d) => d.run.mode.name === f.run.mode.name && d.run.n === f.run.n && d.run.serverName !== 'cluster',
    );
    return dev ? [{ f, dev }] : [];
  });
  if (!pairs.length) return undefined;
  const head = ['cluster | dev server', ...pairs.map(({ f }) => `${f.run.mode.name} n=${f.run.n}`)];
  const row = (name: string, cell: (f: Figures) => string): Row => [
    name,
    ...pairs.map(({ f, dev }) => `${cell(f)} | ${cell(dev)}`),
  ];
  const rss = (f: Figures, role: Role) => num(f.run.peakRssMiB[role], 0);
  return {
    head,
    rows: [
      row('approved / started', (f) => `${f.approved}/${f.run.n}${f.ok ? '' : ' ✗'}`),
      row('poll lateness p50/p99 (ms)', (f) => msCell(f.pollLatenessMs, ['p50', 'p99'])),
      row('engine CPU per poll while waiting (ms)', (f) => num(f.waitingCpuPerPollMs, 2)),
      row('engine CPU per poll, whole run (ms)', (f) => num(f.engineCpuPerPollMs, 2)),
      row('start → request p50/p99 (s)', (f) => secs(f.startToAskMs, ['p50', 'p99'])),
      row('decision → result p50/p99 (s)', (f) => secs(f.handBackMs, ['p50', 'p99'])),
      row('CPU per start, worker + server (ms)', (f) =>
        f.run.startCpu ? roles(perApproval(f.run.startCpu, f.run.n), ['worker', 'server'], 1) : dash,
      ),
      row(
        'memory peak MiB: worker RSS / server (cluster: PSS of its parts)',
        (f) => `${rss(f, 'worker')} / ${rss(f, 'server')}`,
      ),
    ],
  };
}

/** Per cluster run, each server part's CPU over the run and its peak memory. */
function partLines(figures: Figures[]): string[] {
  return figures.flatMap((f) => [
    ...(f.run.parts
      ? [
          `${f.label}: ` +
            Object.entries(f.run.parts)
              .map(([name, p]) => `${name} ${num(p.cpuSeconds, 1)} CPU s, ${num(p.peakRssMiB, 0)} MiB PSS`)
              .join('; '),
        ]
      : []),
    ...(f.run.faults?.length
      ? [
          `${f.label}: faults while waiting (--faults), each until the part was back: ` +
            f.run.faults.map((a) => `${a.fault} ${num(a.ms / 1000, 1)} s`).join('; ') +
            `; then ${f.approved} of ${f.run.n} approved` +
            (f.ok ? ', none lost, re-asked or uncertain' : ' ✗'),
        ]
      : []),
  ]);
}

/** Actions per approval-day per Temporal mode (approval-day.ts): the model's terms, the day, and its price. */
function approvalDayTable(figures: Figures[]): Table | undefined {
  const days = figures.filter((f) => f.approvalDay);
  if (!days.length) return undefined;
  const both = (get: (c: DayCount) => number, digits: number) => (f: Figures) =>
    `${f.approvalDay!.server ? num(get(f.approvalDay!.server), digits) : dash} / ${
      f.approvalDay!.history ? num(get(f.approvalDay!.history), digits) : dash
    }`;
  const row = (name: string, cell: (f: Figures) => string): Row => [name, ...days.map(cell)];
  return {
    head: ['per approval: server count / history', ...days.map((f) => f.label)],
    rows: [
      row('observed: ask → first decision (min)', (f) => num(f.approvalDay!.observedSeconds / 60, 1)),
      row('tail: from (min after the ask) · rises seen (server / history)', (f) => {
        const d = f.approvalDay!;
        return `${num(d.tailStartsAfterSeconds / 60, 1)} · ${d.server ? d.server.tailCycles : dash} / ${
          d.history ? num(d.history.tailCycles, 1) : dash
        }`;
      }),
      row(
        'actions observed (start → first decision)',
        both((c) => c.observed, 1),
      ),
      row(
        'tail rate (actions per hour)',
        both((c) => c.tailPerHour, 1),
      ),
      row(
        'ending (first decision → last result)',
        both((c) => c.ending, 1),
      ),
      row(
        'ACTIONS PER APPROVAL-DAY',
        both((c) => c.day, 0),
      ),
      row('$ per approval-day at $50 per million (server count)', (f) => {
        const d = f.approvalDay!.server ?? f.approvalDay!.history;
        return d ? `$${(d.day * DOLLARS_PER_ACTION).toFixed(4)}` : dash;
      }),
    ],
  };
}

/** Per mode, the day's actions by type (server count; history when the server has no counter). */
function approvalDayLines(figures: Figures[]): string[] {
  return figures.flatMap((f) => {
    const d = f.approvalDay;
    const count = d?.server ?? d?.history;
    if (!d || !count) return [];
    const list = [...count.dayByType]
      .sort((a, b) => b[1] - a[1])
      .map(([type, v]) => `${type.replace(/^(command_|grpc_)/, '')} ${num(v, 1)}`)
      .join(', ');
    return [`${f.label} (${d.server ? 'server count' : 'history'}): ${list}`];
  });
}

function text({ head, rows }: Table): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

function markdown({ head, rows }: Table): string {
  const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(head), line(head.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

export interface ReportContext {
  command: string;
  startedAt: Date;
  loadAtStart: number[];
  loadAtEnd: number[];
  notes: string[];
  settings: string;
}

export function notesFor(figures: Figures[]): string[] {
  const notes: string[] = [];
  const skips = new Map<string, string[]>();
  for (const f of figures) {
    if (f.run.skipped) {
      const key = `${f.run.mode.name}: skipped: ${f.run.skipped}`;
      skips.set(key, [...(skips.get(key) ?? []), `n=${f.run.n}`]);
      continue;
    }
    if (f.providerSaturated)
      notes.push(
        `${f.label}: the local provider saturated first (${num(f.run.busiestCores.provider, 2)} cores over its busiest 5 s): ` +
          'these figures measure the provider (one Node process that rewrites its state file on every change), not the engine.',
      );
    if (f.machineSaturated)
      notes.push(
        `${f.label}: the machine saturated (the measured processes used ${num(f.run.busiestCores.all, 2)} of ` +
          `${os.cpus().length} cores over their busiest 5 s; other work on the machine not counted): latencies and ` +
          "rates are this machine's limits, not the engine's; CPU per approval and per poll still compare.",
      );
    // The asked rate is the fast tier's: a wait past it polls slower by design.
    const fastTierOnly = f.run.phases && f.run.phases.decideStartMs - f.run.phases.allPendingMs < FAST_WINDOW_MS;
    if (fastTierOnly && f.pollsPerSecond !== undefined && f.pollsPerSecond < 0.9 * f.pollsPerSecondAsked)
      notes.push(
        `${f.label}: polled at ${((f.pollsPerSecond / f.pollsPerSecondAsked) * 100).toFixed(0)} % of the asked rate ` +
          `while waiting: it fell behind (busiest 5 s in cores: worker ${num(f.run.busiestCores.worker, 2)}, ` +
          `server ${num(f.run.busiestCores.server, 2)}, provider ${num(f.run.busiestCores.provider, 2)}).`,
      );
    if (!f.ok) notes.push(`${f.label}: NOT every approval was approved exactly once (see the first rows).`);
  }
  for (const [note, sizes] of skips) notes.unshift(`${note} (${sizes.join(', ')})`);
  return notes;
}

export function printReport(figures: Figures[], ctx: ReportContext): void {
  const ran = figures.filter((f) => !f.run.skipped);
  const out: string[] = ['', `${ctx.settings}`, ''];
  if (ran.length) out.push(text(resultsTable(ran)), '');
  const floor = floorTable(ran);
  if (floor) out.push(text(floor), '');
  const ratios = ratioTable(ran);
  if (ratios) out.push(text(ratios), '');
  const cluster = clusterTable(ran);
  if (cluster) out.push(text(cluster), '');
  // A cluster run's parts and faults, with or without the dev server's run beside it (--faults runs the cluster only).
  if (partLines(ran).length)
    out.push(
      'Server parts (CPU over the run, peak proportional set size):',
      ...partLines(ran).map((l) => `  ${l}`),
      '',
    );
  out.push('Actions by type:', ...actionLines(ran).map((l) => `  ${l}`), '');
  const day = approvalDayTable(ran);
  if (day)
    out.push(
      'Actions per approval-day (observed + tail rate × rest of the day + ending):',
      text(day),
      ...approvalDayLines(ran).map((l) => `  ${l}`),
      '',
    );
  out.push('Where a start goes (p50 / p99 ms):', ...startStepLines(ran).map((l) => `  ${l}`), '');
  for (const note of ctx.notes) out.push(`* ${note}`);
  console.log(out.join('\n'));
}

const load = (values: number[]) => values.map((l) => l.toFixed(2)).join(' / ');

export function machine(): string {
  const cpus = os.cpus();
  return [
    `CPU ${cpus[0]?.model.trim() ?? '?'}, ${cpus.length} cores`,
    `RAM ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `Node ${process.version}`,
    `${os.type()} ${os.release()}`,
  ].join(', ');
}

export async function writeMarkdown(file: string, figures: Figures[], ctx: ReportContext): Promise<string> {
  const ran = figures.filter((f) => !f.run.skipped);
  const ratios = ratioTable(ran);
  const body = [
    '# Benchmarks',
    '',
    '## Polling that scales: `npm run bench`',
    '',
    '`bench/fleet/` runs N concurrent approvals against the real local stack (Temporal dev server, the local CIBA',
    'provider, a worker in its own process), lets them all wait pending, has a scripted device approve every one,',
    "and compares each polling mode with a baseline in the same run: oauth4webapi's CIBA example loop",
    '(backchannel request, then a token poll every interval, +5 s per slow_down) in the benchmark process, against the',
    'same provider. This file is written by the benchmark; rerun it on your machine to compare.',
    '',
    `* Machine: ${machine()}`,
    `* Load average (1/5/15 min, other work on the machine included): ${load(ctx.loadAtStart)} at start, ${load(ctx.loadAtEnd)} at the end`,
    `* Date: ${ctx.startedAt.toISOString()}`,
    `* Command: \`${ctx.command}\``,
    `* Settings: ${ctx.settings}`,
    '',
    '### Results',
    '',
    ran.length ? markdown(resultsTable(ran)) : 'No run completed.',
    '',
    ...(floorTable(ran) ? ['### Against the floor', '', markdown(floorTable(ran)!), ''] : []),
    ...(ratios ? ['### Compared with the baseline', '', markdown(ratios), ''] : []),
    ...(clusterTable(ran)
      ? [
          '### The cluster beside the dev server',
          '',
          'Same modes, same N, same machine, one after the other in this run; each cell: cluster | dev server. The',
          "cluster's server is its Temporal services and PostgreSQL (every backend included); its own idle apps are",
          'not measured.',
          '',
          markdown(clusterTable(ran)!),
          '',
        ]
      : []),
    ...(partLines(ran).length
      ? ["### The server's parts, and faults", '', ...partLines(ran).map((l) => `- ${l}`), '']
      : []),
    ...(actionLines(ran).length ? ['### Actions by type', '', ...actionLines(ran).map((l) => `- ${l}`), ''] : []),
    ...(approvalDayTable(ran)
      ? [
          '### Actions per approval-day',
          '',
          'One approval that waits a day for its user, per approval: actions observed from its start to the first',
          'decision, plus the tail rate (the second half of the waiting, over whole cycles) times the rest of the day,',
          'plus the ending (first decision to last result). bench/fleet/approval-day.ts states the model.',
          '',
          markdown(approvalDayTable(ran)!),
          '',
          ...approvalDayLines(ran).map((l) => `- ${l}`),
          '',
        ]
      : []),
    ...(startStepLines(ran).length
      ? ['### Where a start goes (p50 / p99 ms per step)', '', ...startStepLines(ran).map((l) => `- ${l}`), '']
      : []),
    ...(ctx.notes.length ? ['### Notes', '', ...ctx.notes.map((n) => `- ${n}`), ''] : []),
    '### How the figures are counted',
    '',
    "- **decision → result**: from the device's approve call returning to the result: the workflow's close time on the",
    '  Temporal server (Temporal modes), the token response in the loop (baseline). All processes share one clock. The',
    '  device spreads its decisions evenly over one polling interval, in random order, so every mode is sampled at every',
    '  phase of its polling cycle (on average half an interval is the wait for the next poll).',
    "- **start → backchannel request**: from the client's start call to the provider's request-log entry of its",
    '  `/bc-authorize`. **Starts acknowledged per s**: approvals started ÷ time from the first start call to the last',
    '  acknowledgement (Temporal: `ApprovalClient.start` returned; baseline: `/bc-authorize` answered).',
    "- **poll lateness**: every gap between two polls of one `auth_req_id` in the provider's request log, minus the",
    '  interval then in force (+5 s after a slow_down), within the first 5 minutes of the ask (the workflow polls every',
    '  30 s after that). **Polls per s achieved**: during *steady waiting* (from one interval after all approvals were',
    "  pending to the first decision), each `auth_req_id`'s polls over whole cycles ((k − 1) ÷ time from its first to",
    '  its last poll in the window), summed; asked = N ÷ interval.',
    '- **CPU**: utime + stime from `/proc/<pid>/stat` of the worker, the Temporal server and the provider, from just',
    "  before the burst to the last result (the worker's start-up and workflow bundling excluded); `bench` is this",
    '  process (`process.cpuUsage()`: the client, the scripted device, and in the baseline the poll loops themselves).',
    '  **Engine** CPU = worker + server (Temporal modes) or the bench process (baseline). **RSS peak**: VmRSS sampled',
    "  every second over the same span (the worker's VmHWM over its life, bundling included, is shown apart).",
    '- **saturated**: the provider, when its busiest 5 s used 0.9 cores or more (Node runs it on one core); the',
    '  machine, when the measured processes together used 90 % of all cores over their busiest 5 s.',
    "- **history events**: visibility's history length of every approval (all runs, if it continued as new).",
    "- **actions**: *server count* is the Temporal server's own `action` counter (Prometheus `/metrics`, by action",
    '  type: workflow started, each command such as ScheduleActivityTask, StartTimer, UpsertWorkflowSearchAttributes,',
    '  RecordMarker, and API calls such as heartbeats and signals), over the run ÷ N. *history* is an estimate from a',
    '  sample of full histories: workflow started, continue-as-new, activity scheduled (+ attempt − 1 for retries),',
    '  timer started, signal, search-attribute upsert, marker (patches, local activities, side effects), child',
    '  workflow, cancel request, update; heartbeats are not in the history. *Per hour waiting*: server count over the',
    '  steady-waiting window ÷ N, extrapolated to an hour (a window edge can cut a polling round: noisy for small N);',
    '  history: per sampled approval, its actions between its first and its last poll of steady waiting (whole',
    '  polling cycles) ÷ that time, extrapolated to an hour. Both hold for the first 5 minutes of an ask, where the',
    '  workflow polls at the interval (every 30 s after that).',
    "- **floor**: the cheapest workflow that runs one activity (one HTTP GET of the provider's discovery document),",
    "  started N at once with the same client, on the same server, by a worker process with the approval worker's",
    '  settings (`workerTuning`, the same connection and data converter; its bundle holds the floor workflow alone).',
    "  Its *start → request* is the start call → its activity's first line; its *hand-back* is the activity's end →",
    "  the workflow's close; its *CPU per start* is everything from the burst to the last close (start, activity,",
    "  completion), the approvals' is the burst → all asked. *× floor* divides by the floor's at the same N and server.",
    '- **actions per approval-day**: observed (start → first decision) + tail rate × (24 h − the span observed from the',
    '  ask) + ending (first decision → last result); the tail is the second half of the wait, its rate over whole',
    "  cycles. *Server count*: the server's `action` counter, scraped every 10 s (recorded heartbeats included);",
    '  *history*: the sampled histories, as Temporal Cloud counts them (markers once per workflow task, a child',
    '  workflow twice; no heartbeats or queries). The tail must lie past the fast tier and hold two slow-tier cycles:',
    '  `--wait` long enough (bench/fleet/approval-day.ts).',
    "- **cluster** (`--cluster`): the same runs on `npm run cluster`'s topology after the dev server's, one server up at",
    '  a time; its server CPU and memory are the sum of its Temporal services and PostgreSQL (postmaster and backends,',
    '  exited ones included), memory as proportional set size.',
    '',
  ].join('\n');
  const target = path.resolve(REPO_ROOT, file);
  writeFileSync(target, await prettyMarkdown(body, target));
  return target;
}

/** Formatted as the repository's prettier would (npm run lint checks it), when prettier is installed. */
async function prettyMarkdown(body: string, file: string): Promise<string> {
  try {
    const prettier = await import('prettier');
    const config = (await prettier.resolveConfig(file)) ?? {};
    return await prettier.format(body, { ...config, filepath: file });
  } catch {
    return body;
  }
}

/** The tables and the conclusion bench/history.ts prints. */
import type { HistoryOptions } from './history-options';
import { HOUR_MS, type Form, type Measured, type Mode } from './history-measure';

const WARN_EVENTS = 10_240;
const LIMIT_EVENTS = 51_200;

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

/** The figures at one horizon: measured when the form ran that long, else extrapolated from its whole run. */
function rowAt(m: Measured, hours: number): Row {
  const label = m.form === 'retry' ? 'retry (extra)' : m.form;
  if (hours <= m.ranHours + 1e-9) {
    const cut = m.startMs + hours * HOUR_MS;
    const perRun = m.runs.map((times) => times.filter((t) => t <= cut).length).filter((n) => n > 0);
    const events = perRun.reduce((a, b) => a + b, 0);
    const polls = m.provider.polls.filter((p) => p.atMs <= cut).length;
    const asks = m.provider.requests.filter((r) => r.requestedAtMs <= cut).length;
    const notes = [
      m.note,
      m.endedAtHours < hours - 0.05 ? `ended ${m.ended} at ${m.endedAtHours.toFixed(1)} h` : undefined,
    ];
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
    note:
      `extrapolated from ${m.ranHours} h` +
      (events >= LIMIT_EVENTS
        ? `; over the ${LIMIT_EVENTS} hard limit (a real server terminates it at ~${(LIMIT_EVENTS / base.eventsPerHour).toFixed(1)} h)`
        : events >= WARN_EVENTS
          ? `; over the ${WARN_EVENTS} warning`
          : ''),
  };
}

export function printReport(measured: Measured[], options: HistoryOptions): void {
  const horizons = [1, 6, 24].filter((h) => h <= options.hours);
  if (!horizons.includes(options.hours)) horizons.push(options.hours);
  const rows = measured.flatMap((m) => horizons.map((h) => rowAt(m, h)));
  const header = [
    'form',
    'provider',
    'sim h',
    'events',
    'events/h',
    'runs',
    'largest run',
    'polls',
    'asks',
    'events/poll',
    'note',
  ];
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
  console.log(
    `History events while an approval waits (provider interval ${options.interval} s; user approves at the end)`,
  );
  console.log('');
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of table) console.log(line(row));
  console.log('');
  console.log(
    `! = over the ${WARN_EVENTS}-event history warning, !! = over the ${LIMIT_EVENTS}-event hard limit (the server terminates the run).`,
  );
  console.log('~ = extrapolated linearly from the measured hours (constant cost per poll, no continue-as-new).');

  console.log('');
  console.log(
    "Cadence (from the simulated provider's log): polls in the first 5 minutes of the first request, and the",
  );
  console.log('longest gap between two polls of one request (how late a decision can be seen), and slow_down answers:');
  for (const m of measured) {
    const first = m.provider.requests[0];
    if (!first) continue;
    const firstFive = m.provider.polls.filter(
      (p) => p.authReqId === first.authReqId && p.atMs - first.requestedAtMs <= 300_000,
    ).length;
    let maxGap = 0;
    const lastByRequest = new Map<string, number>();
    for (const p of m.provider.polls) {
      const previous =
        lastByRequest.get(p.authReqId) ?? m.provider.requests.find((r) => r.authReqId === p.authReqId)!.requestedAtMs;
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

function conclusion(measured: Measured[], options: HistoryOptions): string {
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
    const firstFive = m.provider.polls.filter(
      (p) => p.authReqId === first?.authReqId && p.atMs - first.requestedAtMs <= 300_000,
    ).length;
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

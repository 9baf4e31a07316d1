/**
 * What the benchmark reads from the machine: CPU seconds and memory of processes (/proc), the Temporal server's own
 * count of billable actions (its `action` metric), percentiles, and small helpers.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export const log = (message: string) => process.stderr.write(`[fleet] ${message}\n`);
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const CLOCK_TICKS = (() => {
  const ticks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim());
  return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
})();

/** User + system CPU seconds of a live process (undefined when it is gone or /proc is missing). */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3 (state)
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds of a process and of its children it has waited for (utime + stime + cutime + cstime): summed over a
 * process tree, every process ever in it counts once, also those that have exited (PostgreSQL's backends).
 */
export function treeCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/**
 * The parts of a server that runs as several processes (the cluster: each Temporal service, PostgreSQL with its
 * backends): by name, the pids that make up each part now. Their CPU and memory count as the role `server`, and each
 * part's apart.
 */
export type ServerParts = Record<string, () => number[]>;

/** CPU seconds of each part (the sum over its processes, exited children included: treeCpuSeconds). */
export function partsCpu(parts: ServerParts | undefined): Record<string, number> {
  const cpu: Record<string, number> = {};
  for (const [name, pids] of Object.entries(parts ?? {})) cpu[name] = sum(pids().map((p) => treeCpuSeconds(p) ?? 0));
  return cpu;
}

/**
 * Memory of each part: the proportional set size summed over its processes (/proc/<pid>/smaps_rollup: a page shared
 * by k processes counts 1/k in each, so PostgreSQL's shared buffers count once, not once per backend); VmRSS where
 * smaps_rollup cannot be read.
 */
export function partsRssMiB(parts: ServerParts | undefined): Record<string, number> {
  const rss: Record<string, number> = {};
  for (const [name, pids] of Object.entries(parts ?? {})) rss[name] = sum(pids().map((p) => pssMiB(p) ?? 0));
  return rss;
}

function pssMiB(pid: number): number | undefined {
  try {
    const match = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    if (match) return Number(match[1]) / 1024;
  } catch {
    // not readable (another user's process without the right to trace it): VmRSS instead
  }
  return statusMiB(pid, 'VmRSS');
}

/** A field of /proc/<pid>/status in MiB (VmRSS, VmHWM). */
export function statusMiB(pid: number | undefined, field: 'VmRSS' | 'VmHWM'): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

export type Role = 'worker' | 'server' | 'provider' | 'bench';
export type PerRole<T> = Partial<Record<Role, T>>;

/** CPU seconds of each process, and of this one (process.cpuUsage); `server` is its parts' sum when it has parts. */
export function cpuSnapshot(pids: PerRole<number>, parts?: ServerParts): PerRole<number> {
  const snapshot: PerRole<number> = {};
  for (const [role, pid] of Object.entries(pids) as [Role, number][]) snapshot[role] = cpuSeconds(pid);
  if (parts) snapshot.server = sum(Object.values(partsCpu(parts)));
  const self = process.cpuUsage();
  snapshot.bench = (self.user + self.system) / 1e6;
  return snapshot;
}

export function cpuDelta(before: PerRole<number>, after: PerRole<number>): PerRole<number> {
  const delta: PerRole<number> = {};
  for (const role of Object.keys(after) as Role[]) {
    const [b, a] = [before[role], after[role]];
    if (a !== undefined && b !== undefined) delta[role] = a - b;
  }
  return delta;
}

/**
 * Samples every process once a second: peak resident memory (VmRSS) and CPU use per second, so that a process that
 * ran flat out (the provider, a single Node thread, at one core) shows.
 */
export class Sampler {
  readonly peakRssMiB: PerRole<number> = {};
  /** Per role, CPU cores used in each one-second sample. */
  readonly coresPerSample: PerRole<number[]> = {};
  private last: PerRole<number> = {};
  private lastAt = performance.now();
  private readonly timer: NodeJS.Timeout;
  private stopped = false;
  private readonly partsCpuFirst: Record<string, number>;
  private partsCpuLast: Record<string, number> = {};
  private readonly partsPeakRssMiB: Record<string, number> = {};

  constructor(
    private readonly pids: PerRole<number>,
    private readonly serverParts?: ServerParts,
  ) {
    this.partsCpuFirst = partsCpu(serverParts);
    this.sample();
    this.timer = setInterval(() => this.sample(), 1000);
  }

  private sample(): void {
    const now = performance.now();
    const cpu = cpuSnapshot(this.pids, this.serverParts);
    const partsRss = partsRssMiB(this.serverParts);
    for (const [name, rss] of Object.entries(partsRss))
      this.partsPeakRssMiB[name] = Math.max(this.partsPeakRssMiB[name] ?? 0, rss);
    if (this.serverParts) this.partsCpuLast = partsCpu(this.serverParts);
    for (const role of Object.keys(cpu) as Role[]) {
      const rss =
        role === 'bench'
          ? process.memoryUsage().rss / 2 ** 20
          : role === 'server' && this.serverParts
            ? sum(Object.values(partsRss))
            : statusMiB(this.pids[role], 'VmRSS');
      if (rss !== undefined) this.peakRssMiB[role] = Math.max(this.peakRssMiB[role] ?? 0, rss);
      const [before, after] = [this.last[role], cpu[role]];
      if (before !== undefined && after !== undefined && now > this.lastAt) {
        (this.coresPerSample[role] ??= []).push((after - before) / ((now - this.lastAt) / 1000));
      }
    }
    this.last = cpu;
    this.lastAt = now;
  }

  private allCores(): number[] {
    const series = Object.values(this.coresPerSample);
    const length = Math.min(...series.map((s) => s.length));
    return Array.from({ length: Number.isFinite(length) ? length : 0 }, (_, i) => sum(series.map((s) => s[i]!)));
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.sample();
    clearInterval(this.timer);
  }

  /** Per server part: CPU seconds from the first sample to the last, and peak resident memory (none without parts). */
  parts(): Record<string, { cpuSeconds: number; peakRssMiB: number }> | undefined {
    if (!this.serverParts) return undefined;
    return Object.fromEntries(
      Object.keys(this.serverParts).map((name) => [
        name,
        {
          cpuSeconds: (this.partsCpuLast[name] ?? 0) - (this.partsCpuFirst[name] ?? 0),
          peakRssMiB: this.partsPeakRssMiB[name] ?? 0,
        },
      ]),
    );
  }

  /** The busiest `seconds`-long stretch of a role (or of all measured processes together), in cores. */
  busiest(role: Role | 'all', seconds = 5): number | undefined {
    const samples = role === 'all' ? this.allCores() : (this.coresPerSample[role] ?? []);
    if (samples.length < seconds) return undefined;
    let best = 0;
    for (let i = 0; i + seconds <= samples.length; i++) {
      best = Math.max(best, samples.slice(i, i + seconds).reduce((a, b) => a + b, 0) / seconds);
    }
    return best;
  }

  /**
   * Stops sampling and gives what a run records of it: each process's peak resident memory (sampled, and VmHWM over
   * its whole life), its busiest 5 s, and the server's parts.
   */
  finish(pids: PerRole<number>): {
    peakRssMiB: PerRole<number>;
    lifetimePeakRssMiB: PerRole<number>;
    busiestCores: PerRole<number> & { all?: number };
    parts: Record<string, { cpuSeconds: number; peakRssMiB: number }> | undefined;
  } {
    this.stop();
    const lifetimePeakRssMiB: PerRole<number> = {};
    const busiestCores: PerRole<number> & { all?: number } = {};
    for (const role of Object.keys(pids) as Role[]) {
      lifetimePeakRssMiB[role] = statusMiB(pids[role], 'VmHWM');
      busiestCores[role] = this.busiest(role);
    }
    busiestCores.bench = this.busiest('bench');
    busiestCores.all = this.busiest('all');
    return { peakRssMiB: this.peakRssMiB, lifetimePeakRssMiB, busiestCores, parts: this.parts() };
  }
}

/**
 * The Temporal server's `action` counter (what it counts as billable actions, by action_type: workflow started,
 * each command such as ScheduleActivityTask or StartTimer, heartbeats, signals, ...) for one namespace.
 */
export async function scrapeActions(
  metricsUrl: string | string[] | undefined,
  namespace = 'default',
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  if (!metricsUrl) return counts;
  const text = (await Promise.all([metricsUrl].flat().map((url) => fetch(url).then((r) => r.text())))).join('\n');
  for (const line of text.split('\n')) {
    if (!line.startsWith('action{') || !line.includes(`namespace="${namespace}"`)) continue;
    const type = /action_type="([^"]+)"/.exec(line)?.[1] ?? '?';
    counts.set(type, (counts.get(type) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return counts;
}

/** The server's action counter over time: scraped now, then every `everyMs` until stop() (a last scrape). */
export class ActionSeries {
  readonly points: Array<{ atMs: number; counts: Map<string, number> }> = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly metricsUrl: string | string[] | undefined,
    private readonly everyMs = 10_000,
  ) {}

  async start(): Promise<void> {
    if (!this.metricsUrl) return;
    await this.scrape();
    this.timer = setInterval(() => void this.scrape().catch(() => undefined), this.everyMs);
  }

  async stop(): Promise<void> {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.scrape();
  }

  private async scrape(): Promise<void> {
    const atMs = Date.now();
    this.points.push({ atMs, counts: await scrapeActions(this.metricsUrl) });
  }
}

export function countDelta(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const delta = new Map<string, number>();
  for (const [type, value] of after) {
    const d = value - (before.get(type) ?? 0);
    if (d > 0) delta.set(type, d);
  }
  return delta;
}

export function sum(values: Iterable<number>): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

/**
 * Events per second of one periodic process seen in a window: (k - 1) / (last - first) over its k events in the
 * window, which counts whole cycles only (a window edge that cuts a cycle does not skew it); k / window for k < 2.
 */
export function steadyRate(times: number[], fromMs: number, toMs: number): number {
  const inside = times.filter((t) => t >= fromMs && t < toMs).sort((a, b) => a - b);
  if (inside.length >= 2 && inside.at(-1)! > inside[0]!)
    return (inside.length - 1) / ((inside.at(-1)! - inside[0]!) / 1000);
  return toMs > fromMs ? inside.length / ((toMs - fromMs) / 1000) : 0;
}

/** Nearest-rank percentile; undefined for no values. */
export function percentile(values: number[], p: number): number | undefined {
  if (!values.length) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Runs `fn` over `items`, at most `limit` at a time. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>) {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!, i);
      }
    }),
  );
  return results;
}

/** Checks `probe` every `everyMs` until it returns a value; fails after `timeoutMs` naming `what`. */
export async function waitUntil<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs: number,
  everyMs = 1000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not done after ${Math.round(timeoutMs / 1000)} s`);
    await sleep(everyMs);
  }
}

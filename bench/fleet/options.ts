/** Command line of `npm run bench` (bench/fleet/main.ts). */
import { MODE_NAMES, modeNamed, type Mode } from './modes';

export interface FleetOptions {
  modes: Mode[];
  sizes: number[];
  /** Seconds every approval waits, pending, before the device decides. */
  waitSeconds: number;
  /** The provider's polling interval (IDP_POLL_INTERVAL), seconds. */
  intervalSeconds: number;
  /** Hang detector for each phase (all pending, all decided, all results), seconds. */
  timeoutSeconds: number;
  /** How many histories per run are fetched and counted event by event. */
  historySample: number;
  /** Parallel approve calls of the scripted device. */
  deviceConcurrency: number;
  /** Temporal dev server in memory instead of a temporary SQLite file. */
  inMemory: boolean;
  /** Where the Markdown report goes ('-': nowhere). */
  out: string;
  /** After the dev server's runs, the same runs on the cluster (cluster-target.ts). */
  cluster: boolean;
  /** On the cluster, while the approvals wait: the worker SIGKILLed, history SIGKILLed, PostgreSQL down (faults.ts). */
  faults: boolean;
}

export const USAGE = `npm run bench -- [options]
  --modes LIST       ${MODE_NAMES.join(',')} (default: all; modes not configured yet are skipped)
  --n LIST           approvals per run, e.g. 10,100,1000 (default 10,100)
  --wait DURATION    how long all approvals wait pending before the device approves (default 30s)
  --interval S       the provider's polling interval in seconds (default 5, as Auth0)
  --timeout DURATION hang detector per phase (default 20m)
  --history-sample K histories fetched per run to count events and actions (default 20)
  --device-concurrency K  parallel approvals by the scripted device (default 8)
  --in-memory        Temporal dev server in memory (default: a temporary SQLite file, like npm start)
  --cluster          after the dev server's runs, the same runs on the cluster of npm run cluster (PostgreSQL, a
                     process per Temporal service; port offset 24000, data in .data/cluster-bench; the binaries
                     of .data/cluster/build: npm run cluster:build first)
  --faults           with --cluster, the cluster's runs only: while its approvals wait, SIGKILL the bench's worker (a new one
                     starts), SIGKILL and restart the history service, stop PostgreSQL for 30 s; give --wait
                     120s or more (CPU figures of such runs do not compare: the killed worker's CPU is lost)
  --out FILE         Markdown report (default BENCHMARKS.md; - for none)

Modes: floor is Temporal's own floor (the cheapest workflow with one activity, one HTTP GET): each mode's starts and
hand-backs are reported against it. Actions per approval-day need --wait past the fast tier and two slow-tier cycles.`;

export function parseDuration(text: string, what: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new Error(`${what}: "${text}" is not a duration (e.g. 30s, 2m, 90)`);
  const factor = { ms: 0.001, s: 1, m: 60, h: 3600 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Number(match[1]) * factor;
}

function positiveInt(text: string | undefined, what: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${what} needs a positive whole number, got "${text}"`);
  return value;
}

export function parseOptions(argv: string[]): FleetOptions {
  const options: FleetOptions = {
    modes: MODE_NAMES.map(modeNamed),
    sizes: [10, 100],
    waitSeconds: 30,
    intervalSeconds: 5,
    timeoutSeconds: 20 * 60,
    historySample: 20,
    deviceConcurrency: 8,
    inMemory: false,
    out: 'BENCHMARKS.md',
    cluster: false,
    faults: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--modes':
        options.modes = [
          ...new Set(
            value()
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean),
          ),
        ].map(modeNamed);
        break;
      case '--n':
        options.sizes = value()
          .split(',')
          .map((s) => positiveInt(s.trim(), '--n'));
        break;
      case '--wait':
        options.waitSeconds = parseDuration(value(), '--wait');
        break;
      case '--interval':
        options.intervalSeconds = positiveInt(value(), '--interval');
        break;
      case '--timeout':
        options.timeoutSeconds = parseDuration(value(), '--timeout');
        break;
      case '--history-sample':
        options.historySample = positiveInt(value(), '--history-sample');
        break;
      case '--device-concurrency':
        options.deviceConcurrency = positiveInt(value(), '--device-concurrency');
        break;
      case '--in-memory':
        options.inMemory = true;
        break;
      case '--cluster':
        options.cluster = true;
        break;
      case '--faults':
        options.faults = true;
        break;
      case '--out':
        options.out = value();
        break;
      case '--help':
      case '-h':
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${arg}\n${USAGE}`);
    }
  }
  if (!options.modes.length) throw new Error('--modes: no mode named');
  if (options.faults && !options.cluster)
    throw new Error("--faults: only with --cluster (the faults are the cluster's)");
  return options;
}

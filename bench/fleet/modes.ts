/**
 * The ways an approval can wait for the user, as the benchmark runs them. Add a mode here: `kind: 'temporal'` runs the
 * real worker (its environment extended by `workerEnv`) and starts approvals with `requestFields` added to each
 * request; `kind: 'baseline'` is the in-process oauth4webapi poll loop (baseline.ts); `kind: 'floor'` is Temporal's
 * own floor (floor.ts).
 */
export interface TemporalMode {
  kind: 'temporal';
  name: string;
  what: string;
  /** Added to every approval request. */
  requestFields: Record<string, unknown>;
  /** Added to the worker's environment. */
  workerEnv: Record<string, string>;
  /** CIBA ping delivery: the provider pings the worker's notification endpoint (ping.ts sets both up per run). */
  ping?: boolean;
  /** Why the mode is not run yet (it is listed, and skipped with this message). */
  notConfigured?: string;
}

export interface BaselineMode {
  kind: 'baseline';
  name: string;
  what: string;
}

/**
 * The floor: the cheapest workflow that runs one activity (one HTTP GET), on the same server, worker settings and
 * client as the approval workflow (floor.ts). Its start → activity and activity → result are what any Temporal
 * workflow pays; each mode's starts and hand-backs are reported against it.
 */
export interface FloorMode {
  kind: 'floor';
  name: string;
  what: string;
}

export type Mode = TemporalMode | BaselineMode | FloorMode;

export const MODES: readonly Mode[] = [
  {
    kind: 'temporal',
    name: 'timer',
    what: 'durable timer + one pollToken activity per poll (pollingMode: timer)',
    requestFields: { pollingMode: 'timer' },
    workerEnv: {},
  },
  {
    kind: 'temporal',
    name: 'compact',
    what: 'one long-running polling activity per ask, heartbeating (pollingMode: compact)',
    requestFields: { pollingMode: 'compact' },
    // A worker deployed for compact mode: its defaults (the workflow cache of a compact worker, worker/config.ts).
    workerEnv: { CIBA_POLLING_MODE: 'compact' },
  },
  {
    kind: 'temporal',
    name: 'ping',
    what: 'CIBA ping delivery: timer mode, and the provider pings the worker when the user decides',
    requestFields: { pollingMode: 'timer' },
    workerEnv: {},
    ping: true,
  },
  {
    kind: 'temporal',
    name: 'compact-ping',
    what: 'CIBA ping delivery with compact polling',
    requestFields: { pollingMode: 'compact' },
    // A worker deployed for compact mode: its defaults (the workflow cache of a compact worker, worker/config.ts).
    workerEnv: { CIBA_POLLING_MODE: 'compact' },
    ping: true,
  },
  {
    kind: 'floor',
    name: 'floor',
    what: 'the cheapest workflow with one activity (one HTTP GET): what any Temporal workflow pays',
  },
  {
    kind: 'baseline',
    name: 'baseline',
    what: "in-process oauth4webapi poll loop (oauth4webapi's examples/ciba.ts), no Temporal",
  },
];

export const MODE_NAMES = MODES.map((m) => m.name);

export function modeNamed(name: string): Mode {
  const mode = MODES.find((m) => m.name === name);
  if (!mode) throw new Error(`unknown mode "${name}" (known: ${MODE_NAMES.join(', ')})`);
  return mode;
}

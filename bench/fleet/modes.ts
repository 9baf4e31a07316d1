/**
 * The ways an approval can wait for the user, as the benchmark runs them. Add a mode here: `kind: 'temporal'` runs the
 * real worker (its environment extended by `workerEnv`) and starts approvals with `requestFields` added to each
 * request; `kind: 'baseline'` is the in-process oauth4webapi poll loop (baseline.ts).
 */
export interface TemporalMode {
  kind: 'temporal';
  name: string;
  what: string;
  /** Added to every approval request. */
  requestFields: Record<string, unknown>;
  /** Added to the worker's environment. */
  workerEnv: Record<string, string>;
  /** Why the mode is not run yet (it is listed, and skipped with this message). */
  notConfigured?: string;
}

export interface BaselineMode {
  kind: 'baseline';
  name: string;
  what: string;
}

export type Mode = TemporalMode | BaselineMode;

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
    workerEnv: {},
  },
  {
    kind: 'temporal',
    name: 'ping',
    what: 'CIBA ping delivery (worker waits for the notification)',
    requestFields: {},
    // TODO: the worker's ping settings, once ping mode exists (e.g. CIBA_CLIENT_ID: 'ciba-agent-ping' and the
    // notification endpoint); then remove `notConfigured`.
    workerEnv: {},
    notConfigured: 'ping mode is not configured yet (bench/fleet/modes.ts: workerEnv is a placeholder)',
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

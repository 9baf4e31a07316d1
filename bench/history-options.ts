/** The command line of bench/history.ts. */
import { parseArgs } from 'node:util';

export interface HistoryOptions {
  /** Simulated hours for cibaApproval. */
  hours: number;
  /** Simulated hours for the reference forms (extrapolated beyond). */
  referenceHours: number;
  /** The provider's polling interval, seconds. */
  interval: number;
  /** Run the reference forms as long as cibaApproval. */
  full: boolean;
}

const OPTIONS = {
  hours: { type: 'string', default: '24' },
  'reference-hours': { type: 'string', default: '1' },
  interval: { type: 'string', default: '5' },
  full: { type: 'boolean', default: false },
} as const;

export function parseHistoryOptions(args: string[]): HistoryOptions {
  const values = parse(args);
  const hours = positive('--hours', values.hours);
  const referenceHours = positive('--reference-hours', values['reference-hours']);
  return {
    hours,
    referenceHours: values.full ? hours : Math.min(referenceHours, hours),
    interval: positive('--interval', values.interval),
    full: values.full,
  };
}

function parse(args: string[]) {
  try {
    return parseArgs({ args, options: OPTIONS }).values;
  } catch (error) {
    throw new Error(`${(error as Error).message} (use --hours N, --reference-hours N, --interval S, --full)`, {
      cause: error,
    });
  }
}

function positive(name: string, value: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new Error(`${name} needs a positive number`);
  return number;
}

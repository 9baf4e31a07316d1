/**
 * Runs a script under a Node >= 22.12 (devstack/node24.ts: this Node when new enough, else the project-local Node 24
 * from PyPI), for the agent parts (`ai` 7, `@temporalio/ai-sdk`) while the rest of the repository runs on Node 20:
 *
 *   node --import tsx devstack/node24-run.ts [node options...] <script> [arguments...]
 *
 * A TypeScript script (.ts, .mts, .cts) runs with tsx's loader (`--import tsx` is added); anything else (e.g.
 * node_modules/jest/bin/jest.js) runs as it is. Signals (SIGINT, SIGTERM, SIGHUP) are passed on to the child, and
 * the launcher exits with the child's exit code.
 */
import { spawn } from 'node:child_process';
import { findNode24 } from './node24';

/** The Node arguments for `argv` (launcher arguments): `--import tsx` before a TypeScript script. */
export function node24Args(argv: readonly string[]): string[] {
  const scriptIndex = argv.findIndex((arg, i) => !arg.startsWith('-') && !takesValue(argv[i - 1]));
  if (scriptIndex < 0) throw new Error('usage: node24-run [node options...] <script> [arguments...]');
  const isTs = /\.[mc]?ts$/.test(argv[scriptIndex]!);
  return isTs ? ['--import', 'tsx', ...argv] : [...argv];
}

/** Node options whose value is the next argument (`--import tsx`), so that value is not taken for the script. */
function takesValue(option: string | undefined): boolean {
  return option !== undefined && ['--import', '--require', '-r', '--loader', '--conditions', '-C'].includes(option);
}

/**
 * Runs `argv` (node options, a script, its arguments) under Node >= 22.12 with this process's environment and stdio,
 * passes signals on, and exits this process with the child's exit code.
 */
export function runUnderNode24(argv: readonly string[]): void {
  const node = findNode24();
  const child = spawn(node, node24Args(argv), { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    });
  }
  child.once('error', (error) => {
    console.error(`node24-run: cannot run ${node}: ${error.message}`);
    process.exit(1);
  });
  child.once('exit', (code, signal) => process.exit(code ?? (signal ? 128 + signalNumber(signal) : 1)));
}

function signalNumber(signal: NodeJS.Signals): number {
  return { SIGHUP: 1, SIGINT: 2, SIGTERM: 15, SIGKILL: 9 }[signal as string] ?? 1;
}

if (require.main === module) runUnderNode24(process.argv.slice(2));

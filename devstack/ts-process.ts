/**
 * Runs a part of the stack (the local provider, a worker) as its own Node process with tsx's loader: no wrapper
 * process in between, so a signal reaches the process that matters. Output goes to a log file and, optionally,
 * to this process's stderr with a prefix.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';

import { findRepoRoot } from './temporal-cli';

export const REPO_ROOT = findRepoRoot(__dirname);

export interface ManagedProcess {
  child: ChildProcess;
  logFile: string;
  /** The first line that matched `ready`. */
  readyLine: string;
  /** Sends `signal` and resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Runs a TypeScript entry point with Node + tsx's loader and waits for a line matching `ready`. */
export interface TsProcessOptions {
  /** Folder for the log file `<name>-<time>.log`. */
  logDir: string;
  /** Also copy output to this process's stderr, each line prefixed with `[name]`. */
  echo?: boolean;
  timeoutMs?: number;
  /** Extra arguments for node (e.g. --cpu-prof). */
  nodeArgs?: string[];
}

export async function startTsProcess(
  name: string,
  entry: string,
  env: Record<string, string>,
  ready: RegExp,
  { logDir, echo = false, timeoutMs = 60_000, nodeArgs = [] }: TsProcessOptions,
): Promise<ManagedProcess> {
  mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, `${name}-${Date.now()}.log`);
  const file = createWriteStream(logFile);
  const log = {
    write(chunk: Buffer) {
      file.write(chunk);
      if (echo)
        for (const line of chunk.toString().split('\n').filter(Boolean)) process.stderr.write(`[${name}] ${line}\n`);
    },
    end: () => file.end(),
  };
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', path.join(REPO_ROOT, entry)], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const readyLine = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(
      () => reject(new Error(`${name} not ready after ${timeoutMs} ms; see ${logFile}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      log.write(chunk);
      buffered += chunk.toString();
      const line = buffered.split('\n').find((l) => ready.test(l));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve(line);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(`${name} exited (${code ?? signal}) before it was ready; see ${logFile}:\n${buffered.slice(-2000)}`),
      );
    });
  });
  // Keep logging after ready; stop watching the buffer.
  child.stdout!.removeAllListeners('data').on('data', (c: Buffer) => log.write(c));
  child.stderr!.removeAllListeners('data').on('data', (c: Buffer) => log.write(c));
  return {
    child,
    logFile,
    readyLine,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
      log.end();
    },
  };
}

/**
 * A native program of the cluster (a Temporal service, the UI server, PostgreSQL's tools) run as a child process:
 * its output appended to a log file, a readiness check, and a stop that sends SIGTERM, waits, then SIGKILL.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export type Log = (message: string) => void;

export interface NativeProcess {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** Why it exited, once it has. */
  exitReason(): string | undefined;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartNativeOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  logFile: string;
  /** Resolves true once the process is ready; polled every 250 ms until `timeoutMs`. */
  ready: () => Promise<boolean>;
  timeoutMs?: number;
  /**
   * Its own process group: a Ctrl-C in the terminal reaches only the parent, which then stops the cluster's parts
   * in order (the process is still killed when the parent exits).
   */
  detached?: boolean;
}

/** Starts `command args`, waits until `ready()` says so; kills it and throws (with the log's tail) otherwise. */
export async function startNative(
  name: string,
  command: string,
  args: string[],
  { env = process.env, cwd, logFile, ready, timeoutMs = 60_000, detached = false }: StartNativeOptions,
): Promise<NativeProcess> {
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const offset = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
  const fd = fs.openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    fs.writeSync(fd, `\n=== ${new Date().toISOString()} ${command} ${args.join(' ')}\n`);
    child = spawn(command, args, { env, cwd, stdio: ['ignore', fd, fd], detached });
  } finally {
    fs.closeSync(fd);
  }
  let exit: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exit ??= signal ? `signal ${signal}` : `exit code ${code}`;
      resolve();
    });
    child.once('error', (error) => {
      exit ??= error.message;
      resolve();
    });
  });
  const killOnExit = () => {
    if (exit === undefined) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  const stop = async (graceMs = 10_000) => {
    if (exit === undefined) child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (exit === undefined) child.kill('SIGKILL');
    }, graceMs);
    await exited;
    clearTimeout(timer);
    process.removeListener('exit', killOnExit);
  };
  const running: NativeProcess = { name, child, logFile, exitReason: () => exit, stop };

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exit !== undefined) {
      throw new Error(`${name} exited (${exit}) before it was ready; ${logFile}:\n${logTail(logFile, offset)}`);
    }
    if (await ready().catch(() => false)) return running;
    if (Date.now() > deadline) {
      await stop(2000);
      throw new Error(`${name} not ready after ${timeoutMs} ms; ${logFile}:\n${logTail(logFile, offset)}`);
    }
    await sleep(250);
  }
}

/** The last lines written to `file` after `fromOffset`. */
export function logTail(file: string, fromOffset = 0, maxLines = 30): string {
  try {
    const text = fs.readFileSync(file).subarray(fromOffset).toString('utf8');
    return text.trim().split('\n').slice(-maxLines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Runs a command to completion; throws with its output when it fails. Returns stdout. */
export function run(command: string, args: string[], options: SpawnSyncOptions = {}): string {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  if (result.error || result.status !== 0) {
    const output = `${String(result.stdout ?? '')}\n${String(result.stderr ?? '')}`.trim();
    throw new Error(
      `"${command} ${args.join(' ')}" failed (${result.error?.message ?? `exit code ${result.status}`}):\n` +
        output.split('\n').slice(-30).join('\n'),
    );
  }
  return String(result.stdout ?? '');
}

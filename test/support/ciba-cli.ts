/** The `ciba` CLI as a user runs it (bin/ciba.js, a process of its own), for tests that read its output. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../devstack/ts-process';

const execFileAsync = promisify(execFile);

/** The CLI's entry script. */
export const CIBA = path.join(REPO_ROOT, 'bin', 'ciba.js');

export interface CibaRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `ciba ...args` with `env` over this process's environment; a non-zero exit is a result, not an error. */
export async function runCiba(env: Record<string, string>, ...args: string[]): Promise<CibaRun> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [CIBA, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

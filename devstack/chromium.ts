/**
 * The browser the browser tests drive: Debian's `chromium` package (playwright-core never downloads a browser here).
 *
 * `ensureChromium()` returns the executable: `CHROMIUM_PATH` when set, else `/usr/bin/chromium`; when that is
 * missing it installs the package with `apt-get install -y --no-install-recommends chromium` (as root, or through
 * sudo), running `apt-get update` first only when the install failed for lack of package lists. Run it as a script
 * (`node --import tsx devstack/chromium.ts`) to install before the tests; it prints the path on stdout.
 *
 * `CHROMIUM_ARGS` are the launch flags known to work on this project's machines: headless without a sandbox (tests
 * run as root), and no background traffic (the network is closed; Chromium's attempts to reach Google's hosts only
 * slow it down). Give every launch a fresh `--user-data-dir` (playwright-core's `launch()` does).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

import type { Browser, LaunchOptions } from 'playwright-core';

import { stderrLogger, type Logger } from './temporal-cli';

export const DEFAULT_CHROMIUM_PATH = '/usr/bin/chromium';

export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface EnsureChromiumOptions {
  /** Environment to read (CHROMIUM_PATH). Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Install the Debian package when the executable is missing. Default true. */
  install?: boolean;
  log?: Logger;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

interface CommandResult {
  ok: boolean;
  output: string;
}

function run(command: string, args: string[], log: Logger): CommandResult {
  log(`running ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    maxBuffer: 64 * 1024 * 1024,
  });
  const output = `${result.error ? `${result.error.message}\n` : ''}${result.stdout ?? ''}${result.stderr ?? ''}`;
  return { ok: result.status === 0, output };
}

/** apt-get itself, or through sudo when not root. */
function aptGet(args: string[], log: Logger): CommandResult {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  return root ? run('apt-get', args, log) : run('sudo', ['-n', 'apt-get', ...args], log);
}

/** The install failed because apt has no (or stale) package lists: worth one `apt-get update`. */
function lacksPackageLists(output: string): boolean {
  return /Unable to locate package|has no installation candidate|404\s+Not Found|Failed to fetch/i.test(output);
}

function installChromium(log: Logger): void {
  const install = ['install', '-y', '--no-install-recommends', 'chromium'];
  let result = aptGet(install, log);
  if (!result.ok && lacksPackageLists(result.output)) {
    log('apt has no usable package lists: apt-get update, then install again');
    const update = aptGet(['update'], log);
    if (!update.ok) throw new Error(`apt-get update failed:\n${update.output.slice(-4000)}`);
    result = aptGet(install, log);
  }
  if (!result.ok) throw new Error(`apt-get install chromium failed:\n${result.output.slice(-4000)}`);
}

/** The Chromium executable, installed from Debian's packages when missing. Throws when there is none to be had. */
export function ensureChromium({
  env = process.env,
  install = true,
  log = stderrLogger,
}: EnsureChromiumOptions = {}): string {
  const configured = env.CHROMIUM_PATH?.trim();
  if (configured) {
    if (isExecutable(configured)) return configured;
    throw new Error(`CHROMIUM_PATH=${configured} is not an executable file`);
  }
  if (isExecutable(DEFAULT_CHROMIUM_PATH)) return DEFAULT_CHROMIUM_PATH;
  if (!install) throw new Error(`${DEFAULT_CHROMIUM_PATH} is missing (install Debian's chromium package)`);
  if (process.platform !== 'linux') throw new Error(`no Chromium at ${DEFAULT_CHROMIUM_PATH}: set CHROMIUM_PATH`);
  log(`${DEFAULT_CHROMIUM_PATH} is missing: installing Debian's chromium package`);
  installChromium(log);
  if (!isExecutable(DEFAULT_CHROMIUM_PATH)) {
    throw new Error(`apt-get installed chromium, but ${DEFAULT_CHROMIUM_PATH} is still missing`);
  }
  return DEFAULT_CHROMIUM_PATH;
}

/**
 * Debian's Chromium under playwright-core (a dev dependency, loaded only here): installed first when missing, started
 * headless with CHROMIUM_ARGS and a fresh profile. `timeoutMs` bounds the start (the first one is slow on a busy
 * machine).
 */
export async function launchChromium(options: EnsureChromiumOptions & { timeoutMs?: number } = {}): Promise<Browser> {
  const executablePath = ensureChromium(options);
  const { chromium } = await import('playwright-core');
  const launch: LaunchOptions = {
    executablePath,
    headless: true, // playwright adds --headless itself
    args: CHROMIUM_ARGS.filter((arg) => arg !== '--headless'),
    timeout: options.timeoutMs ?? 5 * 60_000,
  };
  return chromium.launch(launch);
}

if (require.main === module) {
  try {
    process.stdout.write(`${ensureChromium()}\n`);
  } catch (error) {
    process.stderr.write(`[devstack] ${(error as Error).message}\n`);
    process.exit(1);
  }
}

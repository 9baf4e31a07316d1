/**
 * The cluster's native binaries, built from the Go module proxy: the Temporal server (`go.temporal.io/server/cmd/server`),
 * its schema tool (`cmd/tools/sql`) and the UI server (`github.com/temporalio/ui-server/v2/cmd/server`), each in a
 * scratch Go module under `.data/cluster/build/` (one per upstream module, so that each keeps exactly its own
 * dependency versions). Go's module and build caches stay where Go keeps them (outside the checkout): a fresh clone
 * on the same machine only links. A binary is rebuilt only when it is missing or `go version -m` says it was built
 * from another version.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { VERSIONS, type ClusterLayout } from './layout';
import { run, type Log } from './native-process';

interface Target {
  /** Output file. */
  bin: string;
  /** Main package to build. */
  pkg: string;
  /** The module that must be at `version` in the binary's build info. */
  module: string;
  version: string;
  /** Scratch module folder (under build/). */
  scratch: string;
  /** Other module versions the scratch module requires (`module@version`). */
  extra?: readonly string[];
}

function targets(layout: ClusterLayout): Target[] {
  const { bin } = layout.paths;
  const server = { module: 'go.temporal.io/server', version: VERSIONS.temporalServer, scratch: 'server' };
  return [
    { ...server, bin: bin.temporalServer, pkg: 'go.temporal.io/server/cmd/server' },
    { ...server, bin: bin.sqlTool, pkg: 'go.temporal.io/server/cmd/tools/sql' },
    {
      module: 'github.com/temporalio/ui-server/v2',
      version: VERSIONS.uiServer,
      scratch: 'ui',
      extra: VERSIONS.uiServerDependencies,
      bin: bin.uiServer,
      pkg: 'github.com/temporalio/ui-server/v2/cmd/server',
    },
  ];
}

/** Go's environment for every command here: the pinned toolchain (fetched through the module proxy when missing). */
export function goEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GOTOOLCHAIN: VERSIONS.go, GOFLAGS: '-mod=mod' };
}

/** Builds what is missing or stale; returns how long it took (0 when all binaries were current). */
export async function ensureBinaries(layout: ClusterLayout, log: Log): Promise<number> {
  const started = Date.now();
  const stale = targets(layout).filter((t) => !isCurrent(t));
  if (stale.length === 0) return 0;
  checkGo();
  fs.mkdirSync(path.dirname(layout.paths.bin.temporalServer), { recursive: true });
  for (const scratch of [...new Set(stale.map((t) => t.scratch))]) {
    const group = stale.filter((t) => t.scratch === scratch);
    const dir = path.join(layout.paths.build, scratch);
    prepareScratchModule(dir, group, log);
    for (const target of group) await build(dir, target, log);
  }
  const seconds = (Date.now() - started) / 1000;
  log(`binaries built in ${seconds.toFixed(0)} s`);
  return Date.now() - started;
}

/** True when `bin` exists and its build info names the wanted module version and Go toolchain. */
function isCurrent({ bin, module, version }: Target): boolean {
  if (!fs.existsSync(bin)) return false;
  try {
    const info = run('go', ['version', '-m', bin], { env: goEnv(), cwd: path.dirname(bin) });
    const goVersion = /^\S+: (go\S+)/.exec(info)?.[1];
    const moduleLine = info
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .find((fields) => (fields[0] === 'dep' || fields[0] === 'mod') && fields[1] === module);
    return goVersion === VERSIONS.go && moduleLine?.[2] === version;
  } catch {
    return false;
  }
}

function checkGo(): void {
  try {
    run('go', ['version'], { env: goEnv() });
  } catch (error) {
    throw new Error(
      `npm run cluster builds the Temporal server from source and needs Go (https://go.dev/dl/, any 1.21+; ` +
        `${VERSIONS.go} is fetched through the Go module proxy): ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** A module of our own that requires the upstream module at the wanted version (go.sum filled by `go get`). */
function prepareScratchModule(dir: string, group: Target[], log: Log): void {
  fs.mkdirSync(dir, { recursive: true });
  const goMod = path.join(dir, 'go.mod');
  const version = VERSIONS.go.replace(/^go/, '');
  const wanted = `${group[0]!.module} ${group[0]!.version}`;
  if (!fs.existsSync(goMod) || !fs.readFileSync(goMod, 'utf8').includes(wanted)) {
    fs.writeFileSync(goMod, `module ciba-temporal.local/cluster-build/${path.basename(dir)}\n\ngo ${version}\n`);
    fs.rmSync(path.join(dir, 'go.sum'), { force: true });
  }
  const wantedPackages = [
    ...group.map((t) => `${t.pkg}@${t.version}`),
    ...new Set(group.flatMap((t) => t.extra ?? [])),
  ];
  log(`resolving ${wantedPackages.join(', ')} (Go module proxy, ${VERSIONS.go})`);
  run('go', ['get', ...wantedPackages], { env: goEnv(), cwd: dir });
}

/** `go build -o <bin>`, logging progress every 30 s (packages compiled so far). */
async function build(dir: string, target: Target, log: Log): Promise<void> {
  const started = Date.now();
  const tmp = `${target.bin}.tmp-${process.pid}`;
  log(
    `building ${target.pkg}@${target.version} (first build: 8-15 min on 2 cores; after that Go's build cache makes it a link)`,
  );
  let packages = 0;
  let output = '';
  const child = spawn('go', ['build', '-v', '-o', tmp, target.pkg], {
    env: goEnv(),
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const onData = (chunk: Buffer) => {
    const text = chunk.toString();
    packages += text.split('\n').filter((line) => /^[\w.-]+\//.test(line)).length;
    output = (output + text).slice(-8000);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const timer = setInterval(() => {
    const elapsed = Math.round((Date.now() - started) / 1000);
    log(`  still building ${path.basename(target.bin)}: ${elapsed} s, ${packages} packages compiled`);
  }, 30_000);
  const stopBuild = () => child.kill('SIGTERM');
  process.once('exit', stopBuild);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', resolve);
    });
    if (code !== 0) throw new Error(`go build ${target.pkg} failed (exit ${code}):\n${output}`);
    fs.renameSync(tmp, target.bin);
  } finally {
    clearInterval(timer);
    process.removeListener('exit', stopBuild);
    fs.rmSync(tmp, { force: true });
  }
  log(`built ${target.bin} in ${((Date.now() - started) / 1000).toFixed(0)} s (${packages} packages compiled)`);
}

/** The upstream module's source folder in Go's module cache (schema files, sample configs). */
export function moduleDir(layout: ClusterLayout, module: 'go.temporal.io/server'): string {
  const options = { env: goEnv(), cwd: path.join(layout.paths.build, 'server') };
  let dir = run('go', ['list', '-m', '-f', '{{.Dir}}', module], options).trim();
  if (!dir) {
    // The module cache was cleaned since the build: fetch the source again.
    run('go', ['mod', 'download', module], options);
    dir = run('go', ['list', '-m', '-f', '{{.Dir}}', module], options).trim();
  }
  return dir;
}

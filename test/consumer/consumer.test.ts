/**
 * "Install it, don't fork it": a team's project in a temporary folder outside the repository installs the package
 * from its `npm pack` tarball (dependencies from the npm registry, through npm's cache), type-checks its agent
 * workflow and worker against the package's types in strict mode, and completes an approval on the test stack: its
 * own worker runs its agent (requestApproval, checkStartSeal from ciba-temporal/workflow) and the package's approval
 * workflows and activities (withApprovals from ciba-temporal/worker); the user approves on the provider's device API.
 */
import { execFile, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../devstack/ts-process';
import { Device, sharedStack, stackEnv, uniqueBindingMessage, uniqueTaskQueue } from '../support/stack';

const run = promisify(execFile);
const FIXTURE = path.join(__dirname, 'fixture');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const INSTALL_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund'];

function versionOf(name: string): string {
  return (
    JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }
  ).version;
}

/** The fixture as a project in `dir`: `.ts.in` sources written as `.ts`, package.json pointing at the tarball. */
function writeProject(dir: string, tarball: string): void {
  cpSync(FIXTURE, dir, { recursive: true });
  rmSync(path.join(dir, 'README.md'));
  for (const file of readdirSync(path.join(dir, 'src'))) {
    renameSync(path.join(dir, 'src', file), path.join(dir, 'src', file.replace(/\.ts\.in$/, '.ts')));
  }
  const template = readFileSync(path.join(dir, 'package.json.template'), 'utf8');
  rmSync(path.join(dir, 'package.json.template'));
  writeFileSync(
    path.join(dir, 'package.json'),
    template
      .replace('__TARBALL__', tarball)
      .replaceAll('__TEMPORAL_VERSION__', versionOf('@temporalio/worker'))
      .replace('__TYPES_NODE_VERSION__', versionOf('@types/node'))
      .replace('__TYPESCRIPT_VERSION__', versionOf('typescript')),
  );
}

describe('the npm package, installed in a project of its own', () => {
  let work: string;
  let project: string;

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'ciba-consumer-'));
    project = path.join(work, 'project');
    await run(NPM, ['run', 'build'], { cwd: REPO_ROOT });
    const { stdout } = await run(NPM, ['pack', '--json', '--pack-destination', work], { cwd: REPO_ROOT });
    const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    const shipped = packed!.files.map((f) => f.path);
    expect(
      shipped.filter(
        (f) => /^(test|devstack|provider|bench|python)\//.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts')),
      ),
    ).toEqual([]);
    writeProject(project, path.join(work, packed!.filename));
    await run(NPM, ['install', ...INSTALL_FLAGS], { cwd: project, maxBuffer: 16 * 1024 * 1024 });
  });

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('type-checks in strict mode against the package types, and its worker completes an approval', async () => {
    // tsc emits only when the project type-checks (noEmitOnError): the type check and the build in one.
    await run(path.join(project, 'node_modules', '.bin', 'tsc'), ['-p', project], { cwd: project }).catch(
      (error: { stdout?: string }) => {
        throw new Error(`tsc failed:\n${error.stdout ?? String(error)}`);
      },
    );
    const installed = path.join(project, 'node_modules', 'ciba-temporal');
    const contents = readdirSync(installed);
    expect(contents).toEqual(expect.arrayContaining(['bin', 'lib', 'package.json']));
    expect(
      contents.filter((name) => ['test', 'devstack', 'provider', 'bench', 'api', 'python'].includes(name)),
    ).toEqual([]);

    const bindingMessage = uniqueBindingMessage('Consumer');
    const env = { ...process.env, ...stackEnv(uniqueTaskQueue('consumer')), CONSUMER_BINDING_MESSAGE: bindingMessage };
    const child = spawn(process.execPath, [path.join(project, 'dist', 'run.js')], { cwd: project, env });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const device = new Device(sharedStack().issuer);
      const request = await device.waitFor(bindingMessage);
      await device.decide(request.auth_req_id, 'approve');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
    expect(output).toContain('consumer: result: approved with an access token');
  });
});

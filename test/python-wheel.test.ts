/**
 * The Python package as a team gets it: `python -m build` makes its sdist and wheel (the wheel built from the sdist,
 * so the sdist is complete too), a fresh venv outside the repository installs the wheel (its dependencies from PyPI,
 * through pip's cache), and a Python agent workflow there (test/python-wheel/agent.py, copied out, run from a folder
 * with no path to python/) asks for an approval with request_approval against the real stack: this file's TypeScript
 * worker runs the cibaApproval child, and this test approves as the user on the provider's device API.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensurePythonEnv } from '../devstack/python-env';
import { REPO_ROOT } from '../devstack/ts-process';
import { Device, sharedStack, uniqueBindingMessage } from './support/stack';
import { useWorkerFixture } from './support/worker-fixture';

// Building (hatchling into build's own env), installing from PyPI (through pip's cache) and a real approval, on two
// busy cores: allow a lot. No assertion depends on time; this only turns a hang into a failure.
jest.setTimeout(20 * 60_000);

const fixture = useWorkerFixture('python-wheel');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'ciba-python-wheel-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Run {
  code: number | null;
  output: string;
  stdout: string;
}

/** Runs a command to its end; `onOutput` sees the output as it comes. */
function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, PIP_NO_INPUT: '1', PYTHONDONTWRITEBYTECODE: '1', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output, stdout }));
  });
}

async function succeed(what: string, command: string, args: string[], cwd: string): Promise<Run> {
  const result = await run(command, args, { cwd });
  if (result.code !== 0) throw new Error(`${what} failed (exit code ${result.code}):\n${result.output.slice(-4000)}`);
  return result;
}

it('builds the wheel, installs it in a fresh venv, and a Python workflow gets an approval through it', async () => {
  // Build: the dev venv has `build` (python/pyproject.toml, dev extra).
  const dev = await ensurePythonEnv();
  const dist = path.join(scratch, 'dist');
  await succeed(
    'python -m build',
    dev.python,
    ['-m', 'build', '--outdir', dist, path.join(REPO_ROOT, 'python')],
    scratch,
  );
  const built = readdirSync(dist).sort();
  expect(built).toEqual([
    expect.stringMatching(/^ciba_temporal-\d+\.\d+\.\d+-py3-none-any\.whl$/),
    expect.stringMatching(/^ciba_temporal-\d+\.\d+\.\d+\.tar\.gz$/),
  ]);

  // A fresh venv, with the wheel only.
  const python = process.env.CIBA_PYTHON ?? process.env.TEMPORAL_PYTHON ?? 'python3';
  const venv = path.join(scratch, 'venv');
  await succeed('python -m venv', python, ['-m', 'venv', venv], scratch);
  const venvPython = path.join(venv, 'bin', 'python');
  const wheel = path.join(dist, built[0]!);
  await succeed(
    'pip install <wheel>',
    venvPython,
    ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', wheel],
    scratch,
  );

  // The agent, from a folder of its own; the user approves when the request reaches the device.
  const project = path.join(scratch, 'project');
  await succeed('mkdir', 'mkdir', ['-p', project], scratch);
  copyFileSync(path.join(__dirname, 'python-wheel', 'agent.py'), path.join(project, 'agent.py'));
  const bindingMessage = uniqueBindingMessage('Python wheel');
  const agent = run(venvPython, ['agent.py'], {
    cwd: project,
    env: { ...fixture.env, CONSUMER_BINDING_MESSAGE: bindingMessage, PYTHONUNBUFFERED: '1' },
  });
  const device = new Device(sharedStack().issuer);
  const request = await Promise.race([
    device.waitFor(bindingMessage),
    agent.then((result) => {
      throw new Error(`the agent ended before asking (exit code ${result.code}):\n${result.output.slice(-4000)}`);
    }),
  ]);
  await device.decide(request.auth_req_id, 'approve');
  const result = await agent;
  if (result.code !== 0) throw new Error(`the agent failed (exit code ${result.code}):\n${result.output.slice(-4000)}`);
  const answer = JSON.parse(result.stdout.trim().split('\n').pop()!) as { package: string; outcome: string };
  expect(answer).toMatchObject({ outcome: 'approved', hasAccessToken: true });
  // The package the agent ran is the installed wheel, not the repository's sources.
  expect(answer.package.startsWith(path.join(venv, 'lib'))).toBe(true);
});

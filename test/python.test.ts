/**
 * The Python package (python/: ciba_temporal) on the real stack: this file starts a TypeScript approval worker on its
 * own task queue, makes the Python venv (devstack/python-env.ts; the first time, it downloads from PyPI), and runs
 * `pytest python/tests` in it with the stack's environment. The Python tests act as the user's device over the local
 * provider's HTTP API (GET /device/requests, POST /device/requests/:id/approve|deny) at CIBA_ISSUER, and as an attacker
 * who starts a sealed input copied out of a history again (the provider's GET /dev/log and GET /dev/payments prove
 * that nobody was asked and nothing paid twice).
 *
 * The TypeScript codec also decrypts what the Python codec encrypted (the pytest writes those to CIBA_PY_CODEC_OUT).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EncryptionCodec, payloadKeyId } from '../common/payload-codec';
import { fromJsonPayload, readVectors, toJsonPayload, type JsonPayload } from '../contract/codec-vectors';
import { ensurePythonEnv } from '../devstack/python-env';
import { REPO_ROOT } from '../devstack/ts-process';
import { useWorkerFixture } from './support/worker-fixture';

// The first run creates the venv (downloads from PyPI), then pytest waits on real approvals: on two busy cores, allow
// a lot. No assertion depends on time; this only turns a hang into a failure.
jest.setTimeout(20 * 60_000);

const fixture = useWorkerFixture('python');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'ciba-python-'));
const pythonCodecOut = path.join(scratch, 'python-codec-payloads.json');

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function runToEnd(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv) {
  return new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

describe('the Python package', () => {
  it('passes its pytest suite against the stack (codec and seal vectors, ApprovalClient, request_approval, start seals, sample agent)', async () => {
    const python = await ensurePythonEnv();
    const { code, output } = await runToEnd(
      python.python,
      ['-m', 'pytest', 'tests', '-p', 'no:cacheprovider', '-v', '-rA', '--color=no'],
      path.join(REPO_ROOT, 'python'),
      {
        ...process.env,
        ...fixture.env,
        CIBA_REQUIRE_STACK: '1',
        CIBA_PY_CODEC_OUT: pythonCodecOut,
        PYTHONDONTWRITEBYTECODE: '1',
        PYTHONUNBUFFERED: '1',
        OPENAI_AGENTS_DISABLE_TRACING: '1',
      },
    );
    process.stdout.write(`\n----- pytest (exit code ${code}) -----\n${output}\n----- end of pytest -----\n`);
    if (code !== 0)
      throw new Error(`pytest failed with exit code ${code}:\n${output.split('\n').slice(-80).join('\n')}`);
    expect(output).toMatch(/\d+ passed/);
    expect(output).not.toMatch(/\d+ skipped/);
  });

  it('made payloads with the Python codec that the TypeScript codec decrypts', async () => {
    expect(existsSync(pythonCodecOut)).toBe(true);
    const vectors = readVectors();
    const codec = new EncryptionCodec({ key: Buffer.from(vectors.key, 'base64') });
    const made = JSON.parse(readFileSync(pythonCodecOut, 'utf8')) as {
      keyId: string;
      vectors: { name: string; plaintext: JsonPayload; encrypted: JsonPayload }[];
    };
    expect(made.keyId).toBe(payloadKeyId(Buffer.from(vectors.key, 'base64')));
    expect(made.vectors.map((v) => v.name)).toEqual(vectors.vectors.map((v) => v.name));
    for (const vector of made.vectors) {
      expect(vector.encrypted.data).not.toBe(vectors.vectors.find((v) => v.name === vector.name)!.encrypted.data);
      const [decoded] = await codec.decode([fromJsonPayload(vector.encrypted)]);
      expect(toJsonPayload(decoded!)).toEqual(vector.plaintext);
    }
  });
});

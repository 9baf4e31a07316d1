/**
 * Every entry point connects to Temporal the same way: through Temporal's environment configuration (docs/connect.md),
 * read by @temporalio/envconfig in TypeScript and temporalio.envconfig in Python, as the `temporal` CLI reads it.
 *
 * First the settings: a TOML profile's address, namespace, API key or client certificate become the connection's, and
 * an environment variable wins over the profile. Then on the real stack, with no TEMPORAL_ADDRESS anywhere, only
 * TEMPORAL_CONFIG_FILE and TEMPORAL_PROFILE: a worker polls its task queue on the server the profile names, the `ciba`
 * CLI starts an approval there, and the Python client reads it there. A profile that names another namespace sends the
 * CLI and the Python client there (they fail), so the profile is what they follow.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { temporal as temporalProto } from '@temporalio/proto';
import { connectTemporalClient } from '../client/approvals';
import { ConfigError, temporalSettings } from '../common/config';
import { generatePayloadKey } from '../common/payload-codec';
import { ensurePythonEnv } from '../devstack/python-env';
import { REPO_ROOT, type ManagedProcess } from '../devstack/ts-process';
import { loadWorkerConfig } from '../worker/config';
import { CIBA } from './support/ciba-cli';
import { sharedStack, sleep, stackEnv, startWorker, uniqueBindingMessage, uniqueTaskQueue } from './support/stack';

jest.setTimeout(10 * 60_000);

const dir = mkdtempSync(path.join(os.tmpdir(), 'ciba-connect-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Temporal's own variables: none may come from the environment the tests run in. */
const TEMPORAL_VARIABLES = /^TEMPORAL_(ADDRESS|NAMESPACE|API_KEY|TLS.*|PROFILE|CONFIG_FILE|CODEC_.*|GRPC_META_.*)$/;
const saved = Object.fromEntries(Object.entries(process.env).filter(([name]) => TEMPORAL_VARIABLES.test(name)));
beforeAll(() => {
  for (const name of Object.keys(saved)) delete process.env[name];
});
afterAll(() => Object.assign(process.env, saved));

describe('the settings, from a TOML profile', () => {
  const cert = path.join(dir, 'client.pem');
  const key = path.join(dir, 'client-key.pem');
  const file = path.join(dir, 'temporal.toml');
  const payloadKey = generatePayloadKey();
  beforeAll(() => {
    writeFileSync(cert, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    writeFileSync(key, '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n');
    writeFileSync(
      file,
      `[profile.cloud-api-key]
address = "us-east-1.aws.api.temporal.io:7233"
namespace = "approvals.a1b2c"
api_key = "key-from-the-profile"

[profile.cloud-mtls]
address = "approvals.a1b2c.tmprl.cloud:7233"
namespace = "approvals.a1b2c"
[profile.cloud-mtls.tls]
client_cert_path = "${cert}"
client_key_path = "${key}"
`,
    );
  });
  const env = (profile: string, more: Record<string, string> = {}) => ({
    TEMPORAL_CONFIG_FILE: file,
    TEMPORAL_PROFILE: profile,
    CIBA_PAYLOAD_KEY: payloadKey,
    ...more,
  });

  it('Temporal Cloud with an API key: address, namespace, the key, and TLS', () => {
    const settings = temporalSettings(env('cloud-api-key'));
    expect(settings.namespace).toBe('approvals.a1b2c');
    expect(settings.connection).toEqual({
      address: 'us-east-1.aws.api.temporal.io:7233',
      apiKey: 'key-from-the-profile',
      tls: true,
    });
  });

  it('Temporal Cloud with mTLS: the client certificate and key from their files', () => {
    const settings = temporalSettings(env('cloud-mtls'));
    expect(settings.namespace).toBe('approvals.a1b2c');
    expect(settings.connection.address).toBe('approvals.a1b2c.tmprl.cloud:7233');
    const tls = settings.connection.tls as { clientCertPair: { crt: Buffer; key: Buffer } };
    expect(Buffer.from(tls.clientCertPair.crt).toString()).toContain('BEGIN CERTIFICATE');
    expect(Buffer.from(tls.clientCertPair.key).toString()).toContain('BEGIN PRIVATE KEY');
  });

  it('the worker reads the same settings', () => {
    const worker = loadWorkerConfig({
      ...env('cloud-api-key'),
      CIBA_ISSUER: 'https://tenant.example.com/',
      CIBA_CLIENT_ID: 'client',
      CIBA_CLIENT_SECRET: 'secret',
    });
    expect(worker.temporal.connection).toEqual(temporalSettings(env('cloud-api-key')).connection);
    expect(worker.temporal.namespace).toBe('approvals.a1b2c');
  });

  it('an environment variable wins over the profile', () => {
    const settings = temporalSettings(env('cloud-api-key', { TEMPORAL_NAMESPACE: 'other.a1b2c' }));
    expect(settings.namespace).toBe('other.a1b2c');
    expect(settings.connection.apiKey).toBe('key-from-the-profile');
  });

  it('a blank variable leaves the profile setting in place (an .env placeholder is not an empty address)', () => {
    const settings = temporalSettings(env('cloud-api-key', { TEMPORAL_ADDRESS: '', TEMPORAL_NAMESPACE: ' ' }));
    expect(settings.connection.address).toBe('us-east-1.aws.api.temporal.io:7233');
    expect(settings.namespace).toBe('approvals.a1b2c');
  });

  it('refuses a profile the file does not have, and a profile API key beside a token endpoint', () => {
    expect(() => temporalSettings(env('staging'))).toThrow(/staging/);
    expect(() =>
      temporalSettings(
        env('cloud-api-key', {
          CIBA_TEMPORAL_TOKEN_URL: 'https://tenant.example.com/oauth/token',
          CIBA_TEMPORAL_CLIENT_ID: 'temporal-worker',
          CIBA_TEMPORAL_CLIENT_SECRET: 'a-secret-of-sixteen-chars',
        }),
      ),
    ).toThrow(ConfigError);
  });
});

function run(
  command: string,
  args: string[],
  env: Record<string, string>,
  cwd = REPO_ROOT,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The Python client's view of an approval, through ApprovalClient.connect() and the environment alone. */
const PYTHON_STATUS = `
import asyncio, json, sys
from ciba_temporal.client import ApprovalClient

async def main():
    approvals = await ApprovalClient.connect()
    report = await approvals.status(sys.argv[1])
    print(json.dumps({"namespace": approvals.client.namespace, "workflowId": report.workflow_id}))

asyncio.run(main())
`;

describe('on the stack, with only TEMPORAL_CONFIG_FILE and TEMPORAL_PROFILE', () => {
  const stack = sharedStack();
  const file = path.join(dir, 'stack.toml');
  let worker: ManagedProcess | undefined;
  let env: Record<string, string>;
  let temporal: Client | undefined;

  beforeAll(async () => {
    writeFileSync(
      file,
      `# The test stack's dev server, and the same server with a namespace it does not have.
[profile.stack]
address = "${stack.temporalAddress}"
namespace = "default"

[profile.elsewhere]
address = "${stack.temporalAddress}"
namespace = "no-such-namespace"
`,
    );
    const { TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, ...rest } = stackEnv(uniqueTaskQueue('connect'));
    expect([TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE]).toEqual([stack.temporalAddress, 'default']);
    // Blank TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE (an .env file's placeholders): the profile's settings still hold,
    // for the worker, the CLI and the Python client alike.
    env = {
      ...rest,
      TEMPORAL_ADDRESS: '',
      TEMPORAL_NAMESPACE: '',
      TEMPORAL_CONFIG_FILE: file,
      TEMPORAL_PROFILE: 'stack',
    };
    // This test's own view of the server, by its address: not through the profile under test.
    temporal = await connectTemporalClient(
      temporalSettings({ ...rest, TEMPORAL_ADDRESS: stack.temporalAddress, TEMPORAL_NAMESPACE: 'default' }),
    );
  });
  afterAll(async () => {
    await worker?.kill('SIGTERM');
    await temporal?.connection.close();
  });

  it('the worker polls the task queue on the server the profile names', async () => {
    worker = await startWorker(env, 'worker-connect');
    const pollers = async () =>
      (
        await temporal!.workflowService.describeTaskQueue({
          namespace: 'default',
          taskQueue: { name: env.CIBA_TASK_QUEUE },
          taskQueueType: temporalProto.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        })
      ).pollers ?? [];
    const deadline = Date.now() + 120_000;
    while ((await pollers()).length === 0 && Date.now() < deadline) await sleep(250);
    expect((await pollers()).length).toBeGreaterThan(0);
  });

  it('the ciba CLI starts an approval there, and the Python client reads it there', async () => {
    const key = `connect-${Date.now()}`;
    const requested = await run(
      process.execPath,
      [
        CIBA,
        'request',
        '--login-hint',
        'alice@example.com',
        '--binding-message',
        uniqueBindingMessage('Profile'),
        '--id',
        key,
        '--json',
      ],
      env,
    );
    expect(requested.stderr).toBe('');
    expect(requested.code).toBe(0);
    const workflowId = (JSON.parse(requested.stdout) as { workflowId: string }).workflowId;
    expect(workflowId).toBe(`ciba-approval-${key}`);
    try {
      // On the server and in the namespace the profile names.
      const description = await temporal!.workflow.getHandle(workflowId).describe();
      expect(description.taskQueue).toBe(env.CIBA_TASK_QUEUE);

      const python = await ensurePythonEnv();
      const read = await run(python.python, ['-c', PYTHON_STATUS, workflowId], env, path.join(REPO_ROOT, 'python'));
      expect(read.stderr).toBe('');
      expect(JSON.parse(read.stdout)).toMatchObject({ namespace: 'default', workflowId });

      // Another profile, another namespace: both clients go there, and find no such namespace.
      const elsewhere = { ...env, TEMPORAL_PROFILE: 'elsewhere' };
      const cli = await run(process.execPath, [CIBA, 'status', workflowId, '--json'], elsewhere);
      expect(cli.code).toBe(1);
      expect(cli.stdout).toContain('no-such-namespace');
      const py = await run(python.python, ['-c', PYTHON_STATUS, workflowId], elsewhere, path.join(REPO_ROOT, 'python'));
      expect(py.code).not.toBe(0);
      expect(py.stderr).toContain('no-such-namespace');
    } finally {
      await temporal!.workflow
        .getHandle(workflowId)
        .terminate('test/connect.test.ts: done')
        .catch(() => undefined);
    }
  });
});

/**
 * `npm run cluster` end to end: starts the cluster (or uses one already running), asks Alice through one HTTP API
 * instance, approves on the device, reads the tokens through the other instance, finds the approval with its search
 * attributes in the cluster's PostgreSQL visibility, and stops the cluster with SIGINT (only one it started).
 *
 * Runs only with CIBA_TEST_CLUSTER=1: the first start builds the Temporal server and the UI server from source
 * (~10 min on 2 cores; Go's caches make later builds a link), and a warm start still runs PostgreSQL, four Temporal
 * services, the UI server, three workers and two API instances (docs/cluster.md gives the figures).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { ClientCredentialsTokenSource } from '../common/client-credentials-token';
import { clusterLayout, frontendAddress, HOST } from '../devstack/cluster/layout';
import { loadSecrets } from '../devstack/cluster/postgres';
import { ENV_FILE, LOCAL_API_KEYS_FILE } from '../devstack/local-config';
import { isPortOpen } from '../devstack/ports';
import { REPO_ROOT } from '../devstack/ts-process';
import { CIBA_APPROVAL_STATUS, CIBA_PROVIDER } from '../common/search-attributes';
import { Device, uniqueBindingMessage } from './support/stack';

const enabled = process.env.CIBA_TEST_CLUSTER === '1';
const layout = clusterLayout();
/** A cold start builds from source: give it time. */
const START_TIMEOUT_MS = 25 * 60_000;

(enabled ? describe : describe.skip)('npm run cluster (CIBA_TEST_CLUSTER=1)', () => {
  let cluster: ChildProcess | undefined;
  let output = '';

  beforeAll(async () => {
    if (await isPortOpen(HOST, layout.ports.api[1]!, 500)) return; // one is running: use it, leave it running
    cluster = spawn(process.execPath, ['--import', 'tsx', 'devstack/cluster/main.ts'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`cluster not up after ${START_TIMEOUT_MS} ms:\n${tail()}`)),
        START_TIMEOUT_MS,
      );
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('The cluster is up')) {
          clearTimeout(timer);
          resolve();
        }
      };
      cluster!.stdout!.on('data', onData);
      cluster!.stderr!.on('data', onData);
      cluster!.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`npm run cluster exited (${code}) before it was up:\n${tail()}`));
      });
    });
  }, START_TIMEOUT_MS);

  afterAll(async () => {
    if (!cluster || cluster.exitCode !== null) return;
    const exited = new Promise<number | null>((resolve) => cluster!.once('exit', (code) => resolve(code)));
    cluster.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(output).toMatch(/PostgreSQL stopped/);
    expect(await isPortOpen(HOST, layout.ports.postgres, 500)).toBe(false);
    expect(await isPortOpen(HOST, layout.ports.temporal.frontend.grpc, 500)).toBe(false);
  }, 120_000);

  const tail = () => output.split('\n').slice(-40).join('\n');

  test('an approval through one API instance, its tokens through the other, its search attributes in visibility', async () => {
    const [api1, api2] = layout.ports.api.map((port) => `http://${HOST}:${port}`);
    const authorization = `Basic ${Buffer.from(apiKey()).toString('base64')}`;
    const bindingMessage = uniqueBindingMessage('Cluster test');

    const start = await fetch(`${api1}/approvals`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json', 'idempotency-key': bindingMessage },
      body: JSON.stringify({ loginHint: 'alice@example.com', bindingMessage }),
    });
    expect(start.status).toBe(201);
    const { id } = (await start.json()) as { id: string };

    const device = new Device(`http://${HOST}:${layout.ports.provider}`);
    const asked = await device.waitFor(bindingMessage, 60_000);
    await device.decide(asked.auth_req_id, 'approve');

    const result = await fetch(`${api2}/approvals/${encodeURIComponent(id)}/result?wait=60`, {
      headers: { authorization },
    });
    expect(result.status).toBe(200);
    const body = (await result.json()) as { status: string; accessToken?: string; tokenType?: string };
    expect(body.status).toBe('approved');
    expect(body.tokenType).toMatch(/^bearer$/i);
    expect(body.accessToken?.length).toBeGreaterThan(10);

    // Visibility (PostgreSQL's temporal_visibility) lists it with the project's search attributes.
    // The frontend's authorizer (docs/cluster-auth.md): a read-only token of the provider's temporal-reader client.
    const readerToken = await new ClientCredentialsTokenSource({
      tokenUrl: `http://${HOST}:${layout.ports.provider}/oauth/token`,
      clientId: 'temporal-reader',
      clientSecret: loadSecrets(layout).temporalClients['temporal-reader'],
    }).token();
    const connection = await Connection.connect({ address: frontendAddress(layout), tls: false, apiKey: readerToken });
    try {
      const client = new Client({ connection, namespace: 'default' });
      const described = await client.workflow.getHandle(id).describe();
      expect(described.status.name).toBe('COMPLETED');
      expect(described.typedSearchAttributes.get(CIBA_APPROVAL_STATUS)).toBe('approved');
      expect(described.typedSearchAttributes.get(CIBA_PROVIDER)).toMatch(
        new RegExp(`^http://${HOST}:${layout.ports.provider}`),
      );
      let listed: string[] = [];
      for (let i = 0; i < 50 && listed.length === 0; i++) {
        listed = [];
        for await (const w of client.workflow.list({
          query: `WorkflowId = '${id}' AND CibaApprovalStatus = 'approved'`,
        }))
          listed.push(w.workflowId);
        if (listed.length === 0) await new Promise((r) => setTimeout(r, 200));
      }
      expect(listed).toEqual([id]);
      const system = await connection.workflowService.getSystemInfo({});
      expect(system.serverVersion).toBe('1.32.2');
    } finally {
      await connection.close();
    }
  }, 180_000);
});

/** The API key the cluster's instances accept: .env's own keys if it names any, else the local dev key. */
function apiKey(): string {
  const env = existsSync(ENV_FILE) ? parseEnv(readFileSync(ENV_FILE, 'utf8')) : {};
  const keys = process.env.CIBA_API_KEYS ?? env.CIBA_API_KEYS;
  const file = path.resolve(REPO_ROOT, process.env.CIBA_API_KEYS_FILE ?? env.CIBA_API_KEYS_FILE ?? LOCAL_API_KEYS_FILE);
  const entries = (keys ?? readFileSync(file, 'utf8')).split(/[\s,]+/).filter(Boolean);
  const key = entries.find((entry) => !/^[^:]+:sha256:/.test(entry));
  if (!key) throw new Error('no API key with a plain secret in .env or the keys file');
  return key;
}

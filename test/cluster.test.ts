/**
 * `npm run cluster` end to end: starts the cluster (devstack/cluster/main.ts, as a child process, on the test
 * cluster's own ports and data root: test/support/cluster.ts; or uses one already running there), asks Alice through
 * one HTTP API instance, approves on the device, reads the tokens through the other instance, finds the approval with
 * its search attributes in the cluster's PostgreSQL visibility, and stops the cluster with SIGINT (only one it
 * started).
 *
 * Runs only with CIBA_TEST_CLUSTER=1: the first start on a machine builds the Temporal server and the UI server from
 * source (~10 min on 2 cores; CI runs `npm run cluster:build` first), and a warm start still runs PostgreSQL, four
 * Temporal services, the UI server, three workers and two API instances (docs/cluster.md gives the figures).
 */
import { Client, Connection } from '@temporalio/client';
import { ClientCredentialsTokenSource } from '../common/client-credentials-token';
import { frontendAddress, HOST } from '../devstack/cluster/layout';
import { loadSecrets } from '../devstack/cluster/postgres';
import { isPortOpen } from '../devstack/ports';
import { CIBA_APPROVAL_STATUS, CIBA_PROVIDER } from '../common/search-attributes';
import {
  CLUSTER_START_TIMEOUT_MS,
  clusterApiKey,
  clusterTestsEnabled,
  startClusterProcess,
  testClusterLayout,
  type ClusterProcess,
} from './support/cluster';
import { Device, uniqueBindingMessage } from './support/stack';

const layout = testClusterLayout('basic');

(clusterTestsEnabled ? describe : describe.skip)('npm run cluster (CIBA_TEST_CLUSTER=1)', () => {
  let cluster: ClusterProcess | undefined;

  beforeAll(async () => {
    cluster = await startClusterProcess({ name: 'basic' });
  }, CLUSTER_START_TIMEOUT_MS);

  afterAll(async () => {
    if (!cluster?.child) return; // one was running: leave it running
    expect(await cluster.stop()).toBe(0);
    expect(cluster.output()).toMatch(/PostgreSQL stopped/);
    expect(await isPortOpen(HOST, layout.ports.postgres, 500)).toBe(false);
    expect(await isPortOpen(HOST, layout.ports.temporal.frontend.grpc, 500)).toBe(false);
  }, 120_000);

  test('an approval through one API instance, its tokens through the other, its search attributes in visibility', async () => {
    const [api1, api2] = layout.ports.api.map((port) => `http://${HOST}:${port}`);
    const authorization = `Basic ${Buffer.from(clusterApiKey()).toString('base64')}`;
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

/**
 * Temporal authorization on `npm run cluster` (docs/cluster-auth.md): the public frontend maps each call's bearer JWT
 * (from the local provider's client-credentials clients) to roles by its `permissions` claim. Without a token nothing
 * is allowed, a read-only token reads but does not start, and the worker token (the one the cluster's workers and API
 * instances present, refreshed by common/client-credentials-token.ts) starts an approval that completes.
 *
 * With CIBA_TEST_CLUSTER_MTLS=1 as well, the cluster runs with `--mtls` (its frontend asks for client certificates):
 * every client here then presents the cluster's client certificate, and one more test checks that a client without
 * it is refused.
 *
 * Runs only with CIBA_TEST_CLUSTER=1, like test/cluster.test.ts: starts its own cluster (test/support/cluster.ts: its
 * own ports and data root; or uses one already running there, and then leaves it running) and stops what it started.
 */
import { Client, Connection, isGrpcServiceError } from '@temporalio/client';
import { ApprovalClient } from '../client/approvals';
import { temporalSettings } from '../common/config';
import { ClientCredentialsTokenSource } from '../common/client-credentials-token';
import { providerIssuer } from '../devstack/cluster/apps';
import { frontendAddress } from '../devstack/cluster/layout';
import { clusterTlsFiles } from '../devstack/cluster/mtls';
import { loadSecrets } from '../devstack/cluster/postgres';
import { clientTlsOptions } from '../devstack/cluster/temporal-services';
import { ROUTES } from '../provider/provider';
import {
  CLUSTER_START_TIMEOUT_MS,
  clusterTestsEnabled,
  startTestCluster,
  testClusterLayout,
  type TestCluster,
} from './support/cluster';
import { Device, uniqueBindingMessage } from './support/stack';

const layout = testClusterLayout('basic');
const GRPC_PERMISSION_DENIED = 7;
const mtls = process.env.CIBA_TEST_CLUSTER_MTLS === '1';
const tlsFiles = clusterTlsFiles(layout);

(clusterTestsEnabled ? describe : describe.skip)(
  'Temporal authorization on npm run cluster (CIBA_TEST_CLUSTER=1)',
  () => {
    let cluster: TestCluster | undefined;
    const issuer = providerIssuer(layout);
    const address = frontendAddress(layout);

    beforeAll(async () => {
      cluster = await startTestCluster({ name: 'basic', mtls });
    }, CLUSTER_START_TIMEOUT_MS);

    afterAll(async () => {
      await cluster?.stop();
    }, 120_000);

    /** A token of one of the provider's Temporal clients. */
    const tokenOf = (clientId: 'temporal-worker' | 'temporal-reader') =>
      new ClientCredentialsTokenSource({
        tokenUrl: `${issuer}${ROUTES.token}`,
        clientId,
        clientSecret: loadSecrets(layout).temporalClients[clientId],
      }).token();

    async function withClient<T>(apiKey: string | undefined, fn: (client: Client) => Promise<T>): Promise<T> {
      const connection = await Connection.connect({
        address,
        tls: mtls ? clientTlsOptions(tlsFiles) : false,
        ...(apiKey && { apiKey }),
      });
      try {
        return await fn(new Client({ connection, namespace: 'default' }));
      } finally {
        await connection.close();
      }
    }

    const refused = async (call: Promise<unknown>) => {
      const error = await call.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeDefined();
      const cause = (error as { cause?: unknown }).cause ?? error;
      expect(isGrpcServiceError(cause) ? cause.code : error).toBe(GRPC_PERMISSION_DENIED);
    };

    const startAnything = (client: Client) =>
      client.workflow.start('cibaApproval', {
        taskQueue: 'ciba-auth-test-nobody-polls',
        workflowId: `auth-test-${Date.now()}`,
        args: [],
      });

    test('a start without a token is refused', async () => {
      await withClient(undefined, (client) => refused(startAnything(client)));
    });

    test('a start with the read-only token is refused, a read with it answers', async () => {
      const reader = await tokenOf('temporal-reader');
      await withClient(reader, async (client) => {
        await refused(startAnything(client));
        await expect(client.workflow.count()).resolves.toHaveProperty('count');
      });
    });

    test('reads and queries without a token are refused', async () => {
      await withClient(undefined, async (client) => {
        await refused(client.workflow.count());
        await refused(client.workflow.getHandle('ciba-approval-anything').describe());
        await refused(client.workflow.getHandle('ciba-approval-anything').query('status'));
      });
    });

    test('with the worker token (refreshing client credentials, as the workers use) an approval completes', async () => {
      const settings = temporalSettings(cluster!.clientEnv as NodeJS.ProcessEnv);
      expect(settings.credentials).toBeDefined();
      const approvals = await ApprovalClient.connect(settings);
      try {
        const bindingMessage = uniqueBindingMessage('Auth test');
        const { workflowId, started } = await approvals.start({ loginHint: 'alice@example.com', bindingMessage });
        expect(started).toBe(true);
        const device = new Device(issuer);
        const asked = await device.waitFor(bindingMessage, 60_000);
        await device.decide(asked.auth_req_id, 'approve');
        const result = await approvals.result(workflowId);
        expect(result.accessToken.length).toBeGreaterThan(10);
      } finally {
        await approvals.close();
      }
    }, 120_000);

    (mtls ? test : test.skip)(
      'mTLS: a client without the client certificate is refused, with it it reads',
      async () => {
        const reader = await tokenOf('temporal-reader');
        const { serverRootCACertificate } = clientTlsOptions(tlsFiles);
        const withoutCert = Connection.connect({
          address,
          tls: { serverRootCACertificate },
          apiKey: reader,
          connectTimeout: 5000,
        }).then(async (connection) => {
          try {
            return await new Client({ connection, namespace: 'default' }).workflow.count();
          } finally {
            await connection.close();
          }
        });
        await expect(withoutCert).rejects.toThrow();
        const plaintext = Connection.connect({ address, tls: false, apiKey: reader, connectTimeout: 5000 });
        await expect(plaintext).rejects.toThrow();
        await withClient(reader, async (client) => {
          await expect(client.workflow.count()).resolves.toHaveProperty('count');
        });
      },
    );
  },
);

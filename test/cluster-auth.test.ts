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
 * Runs only with CIBA_TEST_CLUSTER=1, like test/cluster.test.ts: starts the cluster (or uses one already running, and
 * then leaves it running) and stops what it started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { Client, Connection, isGrpcServiceError } from '@temporalio/client';
import { ApprovalClient } from '../client/approvals';
import { temporalSettings } from '../common/config';
import { ClientCredentialsTokenSource } from '../common/client-credentials-token';
import { clusterEnv, providerIssuer } from '../devstack/cluster/apps';
import { HOST, clusterLayout, frontendAddress } from '../devstack/cluster/layout';
import { clusterTlsFiles } from '../devstack/cluster/mtls';
import { loadSecrets } from '../devstack/cluster/postgres';
import { clientTlsOptions } from '../devstack/cluster/temporal-services';
import { ENV_FILE } from '../devstack/local-config';
import { isPortOpen } from '../devstack/ports';
import { REPO_ROOT } from '../devstack/ts-process';
import { ROUTES } from '../provider/provider';
import { Device, uniqueBindingMessage } from './support/stack';

const enabled = process.env.CIBA_TEST_CLUSTER === '1';
const layout = clusterLayout();
const START_TIMEOUT_MS = 25 * 60_000;
const GRPC_PERMISSION_DENIED = 7;
const mtls = process.env.CIBA_TEST_CLUSTER_MTLS === '1';
const tlsFiles = clusterTlsFiles(layout);

(enabled ? describe : describe.skip)('Temporal authorization on npm run cluster (CIBA_TEST_CLUSTER=1)', () => {
  let cluster: ChildProcess | undefined;
  let output = '';
  const issuer = providerIssuer(layout);
  const address = frontendAddress(layout);

  beforeAll(async () => {
    if (await isPortOpen(HOST, layout.ports.api[1]!, 500)) return; // one is running: use it, leave it running
    cluster = spawn(process.execPath, ['--import', 'tsx', 'devstack/cluster/main.ts', ...(mtls ? ['--mtls'] : [])], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`cluster not up after ${START_TIMEOUT_MS} ms`)),
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
        reject(new Error(`npm run cluster exited (${code}) before it was up:\n${output.slice(-3000)}`));
      });
    });
  }, START_TIMEOUT_MS);

  afterAll(async () => {
    if (!cluster || cluster.exitCode !== null) return;
    const exited = new Promise<number | null>((resolve) => cluster!.once('exit', (code) => resolve(code)));
    cluster.kill('SIGINT');
    expect(await exited).toBe(0);
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
    const env = {
      ...(existsSync(ENV_FILE) ? parseEnv(readFileSync(ENV_FILE, 'utf8')) : {}),
      ...clusterEnv(layout, issuer, loadSecrets(layout), mtls ? tlsFiles : undefined),
    } as NodeJS.ProcessEnv;
    const settings = temporalSettings(env);
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

  (mtls ? test : test.skip)('mTLS: a client without the client certificate is refused, with it it reads', async () => {
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
  });
});

/**
 * Keycloak 26 as a real second CIBA provider: our worker (provider profile `keycloak`) against a real Keycloak
 * started from Maven Central (devstack/keycloak.ts), with our authentication channel as alice's device.
 *
 * The worker reaches Keycloak through a FaultProxy that injects nothing: its log is what reached Keycloak. Keycloak
 * names its issuer after the Host it was asked by, so the issuer is the proxy's URL and no check is bent.
 * The first start builds Keycloak for this configuration (~1.5 to 3.5 min on 2 cores); later ones take less.
 * CIBA_SKIP_KEYCLOAK=1 skips this file (no Java 21+ or Maven at hand).
 */
import { ApprovalClient, InvalidApprovalRequestError } from '../client/approvals';
import type { ApprovalRequestInput } from '../common/approval';
import { KEYCLOAK_REALM, startKeycloak, type RunningKeycloak } from '../devstack/keycloak';
import type { ChannelRequest } from '../devstack/keycloak-channel';
import { jwtPayload } from './support/approvals';
import { FaultProxy } from './support/fault-proxy';
import { outcomeWithin, type ApprovalOutcome } from './support/approval-outcome';
import { TEST_LOG_DIR, stackEnv, uniqueTaskQueue } from './support/stack';
import { HANG_DETECTOR_MS } from './support/wait';
import { startWorkerWithClients, stopWorkerWithClients, type WorkerWithClients } from './support/worker-fixture';

// Above the hang detectors of the waits a test makes in a row.
jest.setTimeout(3 * HANG_DETECTOR_MS);
const describeKeycloak = process.env.CIBA_SKIP_KEYCLOAK === '1' ? describe.skip : describe;

const BINDING_MESSAGE = 'Pay-50.00-USD-to-ExampleCorp';
const PAYMENT = {
  type: 'payment_initiation',
  instructedAmount: { currency: 'USD', amount: '50.00' },
  creditorName: 'ExampleCorp',
};
const CIBA_PATH = `/realms/${KEYCLOAK_REALM}/protocol/openid-connect/ext/ciba/auth`;

describeKeycloak('against a real Keycloak 26', () => {
  let keycloak: RunningKeycloak;
  let proxy: FaultProxy;
  let workerAndClients: WorkerWithClients;
  let issuer: string;

  beforeAll(async () => {
    keycloak = await startKeycloak({ logDir: TEST_LOG_DIR, readyTimeoutMs: 6 * 60_000 });
    proxy = await FaultProxy.start({ target: keycloak.url });
    issuer = `${proxy.url}/realms/${KEYCLOAK_REALM}`;
    const env = stackEnv(uniqueTaskQueue('keycloak'), {
      CIBA_ISSUER: issuer,
      CIBA_CLIENT_ID: keycloak.clientId,
      CIBA_CLIENT_SECRET: keycloak.clientSecret,
      CIBA_PROVIDER_PROFILE: 'keycloak',
    });
    workerAndClients = await startWorkerWithClients(env, 'worker-keycloak');
  }, 8 * 60_000); // the download (first time only, ~20 s) and Keycloak's first start

  afterAll(async () => {
    if (workerAndClients) await stopWorkerWithClients(workerAndClients);
    await proxy?.close();
    await keycloak?.stop();
  });

  /** Starts an approval; returns its id and the time it started (to tell its requests from earlier ones). */
  async function ask(request: ApprovalRequestInput): Promise<{ workflowId: string; since: number }> {
    const since = Date.now();
    return { workflowId: (await workerAndClients.approvals.start(request)).workflowId, since };
  }

  /** The request alice's device got for this approval. */
  function onDevice(bindingMessage: string, since: number): Promise<ChannelRequest> {
    return keycloak.channel.waitFor(
      (r) => r.bindingMessage === bindingMessage && Date.parse(r.receivedAt) >= since,
      HANG_DETECTOR_MS,
    );
  }

  /** The worker's backchannel authentication requests that reached Keycloak since `since`. */
  function sentToKeycloak(since: number) {
    return proxy.log.filter((e) => e.atMs >= since && e.method === 'POST' && e.path === CIBA_PATH);
  }

  const outcome = (workflowId: string) => outcomeWithin(workerAndClients.approvals, workflowId, HANG_DETECTOR_MS);

  function approved(approvalOutcome: ApprovalOutcome) {
    if (approvalOutcome.kind !== 'approved')
      throw new Error(`expected approved, got ${approvalOutcome.type}: ${approvalOutcome.message}`);
    return approvalOutcome.result;
  }

  test('approved on the device: the agent gets Keycloak tokens for alice', async () => {
    const { workflowId, since } = await ask({ loginHint: 'alice', bindingMessage: BINDING_MESSAGE });
    const request = await onDevice(BINDING_MESSAGE, since);
    expect(request).toMatchObject({
      loginHint: 'alice',
      bindingMessage: BINDING_MESSAGE,
      authorizationDetails: undefined,
    });
    await keycloak.channel.decide(request, 'SUCCEED');

    const result = approved(await outcome(workflowId));
    expect(result.tokenType.toLowerCase()).toBe('bearer');
    expect(jwtPayload(result.accessToken)).toMatchObject({
      iss: issuer,
      azp: keycloak.clientId,
      preferred_username: 'alice',
    });
    expect(jwtPayload(result.idToken!)).toMatchObject({
      iss: issuer,
      aud: keycloak.clientId,
      email: 'alice@example.com',
    });
    expect(result.authorizationDetails).toBeUndefined();
    expect(sentToKeycloak(since).map((e) => e.providerStatus)).toEqual([200]);
  });

  test('authorization_details: Keycloak shows them, alice approves, nothing is granted: AuthorizationDetailsNotGranted', async () => {
    const { workflowId, since } = await ask({
      loginHint: 'alice',
      bindingMessage: BINDING_MESSAGE,
      authorizationDetails: [PAYMENT],
    });
    const request = await onDevice(BINDING_MESSAGE, since);
    expect(JSON.parse(request.authorizationDetails as string)).toEqual([PAYMENT]); // Keycloak passes the raw parameter on
    await keycloak.channel.decide(request, 'SUCCEED');

    const result = await outcome(workflowId);
    expect(result).toMatchObject({ kind: 'failed', type: 'AuthorizationDetailsNotGranted' });
    expect((result as { details: unknown[] }).details[0]).toMatchObject({ requested: [PAYMENT] });
  });

  test("authorization_details with ungrantedAuthorizationDetails 'accept': approved on the binding message alone", async () => {
    const { workflowId, since } = await ask({
      loginHint: 'alice',
      bindingMessage: BINDING_MESSAGE,
      authorizationDetails: [PAYMENT],
      ungrantedAuthorizationDetails: 'accept',
    });
    await keycloak.channel.decide(await onDevice(BINDING_MESSAGE, since), 'SUCCEED');

    const result = approved(await outcome(workflowId));
    expect(jwtPayload(result.accessToken)).toMatchObject({ preferred_username: 'alice' });
    expect(result.authorizationDetails ?? []).toEqual([]);
  });

  test('denied on the device (login hint by e-mail): ApprovalDenied', async () => {
    const bindingMessage = 'Pay-75.00-USD-to-ExampleCorp';
    const { workflowId, since } = await ask({ loginHint: 'alice@example.com', bindingMessage });
    const request = await onDevice(bindingMessage, since);
    expect(request.loginHint).toBe('alice'); // Keycloak resolved the e-mail to the user
    await keycloak.channel.decide(request, 'UNAUTHORIZED');

    expect(await outcome(workflowId)).toMatchObject({ kind: 'failed', type: 'ApprovalDenied' });
  });

  test("a binding message with a space breaks Keycloak's rule: InvalidApprovalRequest, nothing sent to Keycloak", async () => {
    const bindingMessage = 'Pay 50.00 USD to ExampleCorp'; // valid for the generic schema
    // A client that knows the profile (CIBA_PROVIDER_PROFILE) refuses it before starting anything...
    const refused = await workerAndClients.approvals
      .start({ loginHint: 'alice', bindingMessage })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(InvalidApprovalRequestError);
    expect((refused as Error).message).toMatch(/provider profile keycloak/);
    // ...and for a client that does not know it, the worker refuses it before anything is sent.
    const unaware = new ApprovalClient(workerAndClients.approvals.client, workerAndClients.approvals.taskQueue);
    const since = Date.now();
    const { workflowId } = await unaware.start({ loginHint: 'alice', bindingMessage });

    const result = await outcome(workflowId);
    expect(result).toMatchObject({ kind: 'failed', type: 'InvalidApprovalRequest' });
    expect((result as { message: string }).message).toMatch(/provider profile keycloak/);
    expect(sentToKeycloak(since)).toEqual([]);
    expect(keycloak.channel.requests.filter((r) => r.bindingMessage === bindingMessage)).toEqual([]);
  });

  test('an unknown user: CibaProviderError, in CIBA words unknown_user_id', async () => {
    const bindingMessage = 'Pay-50.00-USD-to-Mallory';
    const { workflowId, since } = await ask({ loginHint: 'mallory', bindingMessage });

    const result = await outcome(workflowId);
    expect(result).toMatchObject({ kind: 'failed', type: 'CibaProviderError' });
    expect((result as { details: unknown[] }).details[0]).toMatchObject({
      error: 'invalid_request',
      errorDescription: 'invalid_user',
      cibaError: 'unknown_user_id',
    });
    expect(sentToKeycloak(since).map((e) => e.providerStatus)).toEqual([400]);
    expect(keycloak.channel.requests.filter((r) => r.bindingMessage === bindingMessage)).toEqual([]);
  });
});

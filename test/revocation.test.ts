/**
 * Tokens the agent never receives are revoked at the provider (RFC 7009), as its introspection (RFC 7662, asked as the
 * CIBA client) shows: tokens of an approval that is not granted, of a token response that is otherwise invalid, and of
 * a poll that was in flight when the approval was cancelled (timer and compact mode). The provider profile decides
 * what is revoked: keycloak (and generic) both tokens, auth0 the refresh token only. And no approval asks for
 * offline_access unless its request does.
 *
 * The local provider behaves like Keycloak here (it ignores authorization_details: an approval that asks for them is
 * not granted). It sits behind two fault proxies: the worker talks to the outer one (its issuer), which can rewrite an
 * answer (edit-json); the inner one holds the provider's token response so that the test sees the tokens it issued.
 */
import { createPrivateKey, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { importPKCS8 } from 'jose';
import * as oauth from 'oauth4webapi';
import type { Client } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { CibaClient, type PollOutcome } from '../activities/ciba-protocol';
import { ApprovalRequestSchema, type ApprovalRequestInput } from '../common/approval';
import { loadOrCreateClientKey } from '../provider/client-keys';
import { temporalSettings, workerDataConverter } from '../common/config';
import { PaymentSchema, paymentAuthorizationDetails } from '../common/payment';
import { getFreePort } from '../devstack/ports';
import { isPending, waitForApprovalState } from './support/approvals';
import { outcomeWithin, type ApprovalOutcome } from './support/approval-outcome';
import { FaultProxy } from './support/fault-proxy';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  Device,
  providerLog,
  sharedStack,
  sleep,
  stackEnv,
  startProvider,
  uniqueTaskQueue,
  type StartedProvider,
} from './support/stack';
import { HANG_DETECTOR_MS, waitUntil } from './support/wait';
import { startWorkerWithClients, stopWorkerWithClients, type WorkerWithClients } from './support/worker-fixture';
import { workerInterceptors } from '../worker/worker';
import { APPROVAL_BASELINE, APPROVAL_PATCHES } from '../workflows/patches';

// Above the hang detectors of the waits a test makes in a row.
jest.setTimeout(4 * HANG_DETECTOR_MS);

const EventType = proto.api.enums.v1.EventType;
const DETAILS = paymentAuthorizationDetails(
  PaymentSchema.parse({ amount: '50.00', currency: 'USD', creditorName: 'ExampleCorp' }),
);

let inner: FaultProxy;
let outer: FaultProxy;
let provider: StartedProvider;
/** The provider itself (its device API and request log), not through the proxies. */
let providerUrl: string;
let device: Device;
/** Workers with the keycloak profile (revokes refresh and access tokens) and the auth0 profile (refresh tokens only). */
let keycloak: WorkerWithClients;
let auth0: WorkerWithClients;
/** Every approval the tests ran, by the worker that ran it: their histories must replay (last test). */
const ran: Array<{ worker: WorkerWithClients; workflowId: string }> = [];

beforeAll(async () => {
  inner = await FaultProxy.start();
  outer = await FaultProxy.start({ target: inner.url });
  const port = await getFreePort();
  provider = await startProvider({ IDP_ISSUER: outer.url, IDP_PORT: String(port), IDP_BEHAVIOUR: 'keycloak' });
  providerUrl = `http://127.0.0.1:${port}`;
  inner.setTarget(providerUrl);
  device = new Device(providerUrl);
  // A held answer must reach the worker before its HTTP timeout, however busy the machine.
  const env = (profile: string) =>
    stackEnv(uniqueTaskQueue(`revocation-${profile}`), {
      CIBA_ISSUER: outer.url,
      CIBA_PROVIDER_PROFILE: profile,
      CIBA_HTTP_TIMEOUT_MS: '25000',
    });
  keycloak = await startWorkerWithClients(env('keycloak'), 'worker-revocation-keycloak');
  auth0 = await startWorkerWithClients(env('auth0'), 'worker-revocation-auth0');
});

afterAll(async () => {
  if (keycloak) await stopWorkerWithClients(keycloak);
  if (auth0) await stopWorkerWithClients(auth0);
  await outer?.close();
  await inner?.close();
  await provider?.kill('SIGTERM');
});

/** A binding message both Keycloak and the auth0 profile accept (no spaces), unique to the test. */
const bindingMessage = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

interface Issued {
  accessToken: string;
  refreshToken?: string;
}

/** RFC 7662 at the provider's introspection_endpoint (from discovery), authenticated as the CIBA client. */
async function introspect(token: string, hint: 'access_token' | 'refresh_token'): Promise<Record<string, unknown>> {
  const discovery = (await (await fetch(`${outer.url}/.well-known/openid-configuration`)).json()) as {
    introspection_endpoint: string;
  };
  const response = await fetch(discovery.introspection_endpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token, token_type_hint: hint }),
  });
  if (response.status !== 200) throw new Error(`introspection: HTTP ${response.status} ${await response.text()}`);
  return (await response.json()) as Record<string, unknown>;
}

async function active(issued: Issued): Promise<{ access: unknown; refresh: unknown }> {
  return {
    access: (await introspect(issued.accessToken, 'access_token')).active,
    refresh: issued.refreshToken ? (await introspect(issued.refreshToken, 'refresh_token')).active : undefined,
  };
}

/**
 * Starts an approval on `worker` and approves it on the device; the provider's token response is held at the inner
 * proxy until `whileHeld` has run, then delivered. `beforeApproval` may arm rules for this ask's polls. Returns the
 * tokens the provider issued (still active when they were held) and the approval's outcome.
 */
async function approveHolding(
  worker: WorkerWithClients,
  request: Partial<ApprovalRequestInput>,
  steps: {
    beforeApproval?: (ofThisAsk: (form: URLSearchParams) => boolean) => void;
    whileHeld?: (workflowId: string) => Promise<void>;
  } = {},
): Promise<{ authReqId: string; issued: Issued; outcome: ApprovalOutcome }> {
  const { workflowId } = await worker.approvals.start({
    loginHint: 'alice@example.com',
    bindingMessage: bindingMessage('Revoke'),
    ...request,
  });
  ran.push({ worker, workflowId });
  const { authReqId } = await waitForApprovalState(worker.temporal, workflowId, isPending);
  const ofThisAsk = (form: URLSearchParams) => form.get('auth_req_id') === authReqId;
  inner.failNext({
    endpoint: 'token',
    fault: { kind: 'hold-response' },
    onlyIfStatus: 200,
    match: (r) => ofThisAsk(r.form),
  });
  steps.beforeApproval?.(ofThisAsk);
  await device.decide(authReqId!, 'approve');
  const held = await inner.waitForHeld(HANG_DETECTOR_MS, (h) => h.entry.authReqId === authReqId);
  const body = JSON.parse(held.answer!.body.toString()) as { access_token: string; refresh_token?: string };
  const issued = { accessToken: body.access_token, refreshToken: body.refresh_token };
  expect(await active(issued)).toEqual({ access: true, refresh: issued.refreshToken ? true : undefined });
  await steps.whileHeld?.(workflowId);
  held.deliver();
  return {
    authReqId: authReqId!,
    issued,
    outcome: await outcomeWithin(worker.approvals, workflowId, HANG_DETECTOR_MS),
  };
}

function expectFailure(outcome: ApprovalOutcome, type: string): Extract<ApprovalOutcome, { kind: 'failed' }> {
  if (outcome.kind !== 'failed') throw new Error(`expected ${type}, got tokens`);
  expect(outcome.type).toBe(type);
  return outcome;
}

/** Cancels the approval and waits until the poll in flight is marked cancel-requested (the worker's poll still runs). */
async function cancelWhilePolling(temporal: Client, workflowId: string): Promise<void> {
  await temporal.workflow.getHandle(workflowId).cancel();
  await waitUntil(async () => {
    const { events } = await temporal.workflow.getHandle(workflowId).fetchHistory();
    return (events ?? []).some((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED);
  }, 'the poll in flight to be cancel-requested');
}

describe('an approval that is not granted (AuthorizationDetailsNotGranted)', () => {
  it('keycloak profile: the refresh token and the access token the provider issued are revoked', async () => {
    const { authReqId, issued, outcome } = await approveHolding(keycloak, {
      scope: 'openid offline_access',
      authorizationDetails: DETAILS,
    });
    expectFailure(outcome, 'AuthorizationDetailsNotGranted');
    expect(issued.refreshToken).toBeDefined(); // offline_access, asked for: a refresh token
    expect(await active(issued)).toEqual({ access: false, refresh: false });

    const [asked] = (await providerLog(providerUrl, { authReqId })).filter((e) => e.endpoint === 'bc-authorize');
    expect(asked?.scope).toBe('openid offline_access');
  });

  it('auth0 profile: the refresh token is revoked, the access token is left (Auth0 revokes refresh tokens only)', async () => {
    const { issued, outcome } = await approveHolding(auth0, {
      scope: 'openid offline_access',
      authorizationDetails: DETAILS,
    });
    expectFailure(outcome, 'AuthorizationDetailsNotGranted');
    expect(await active(issued)).toEqual({ access: true, refresh: false });
  });
});

it('a token response that issued tokens but is invalid: InvalidProviderResponse, and its tokens are revoked', async () => {
  const { issued, outcome } = await approveHolding(
    keycloak,
    { scope: 'openid offline_access' },
    {
      // The outer proxy spoils the answer on its way to the worker: a token_type no client supports.
      beforeApproval: (ofThisAsk) =>
        outer.failNext({
          endpoint: 'token',
          fault: { kind: 'edit-json', set: { token_type: 'mac' } },
          onlyIfStatus: 200,
          match: (r) => ofThisAsk(r.form),
        }),
    },
  );
  const failure = expectFailure(outcome, 'InvalidProviderResponse');
  expect(failure.message).toContain('the tokens it carried: refresh_token revoked, access_token revoked');
  expect(failure.message).not.toContain(issued.accessToken);
  expect(failure.message).not.toContain(issued.refreshToken!);
  expect(await active(issued)).toEqual({ access: false, refresh: false });
});

describe('cancelled while the poll that gets the final answer is in flight', () => {
  it.each([['timer'], ['compact']] as const)(
    '%s mode: the approval ends ApprovalCancelled, and the tokens of that poll are revoked',
    async (pollingMode) => {
      const { issued, outcome } = await approveHolding(
        keycloak,
        { scope: 'openid offline_access', pollingMode },
        { whileHeld: (workflowId) => cancelWhilePolling(keycloak.temporal, workflowId) },
      );
      expectFailure(outcome, 'ApprovalCancelled');
      expect(await active(issued)).toEqual({ access: false, refresh: false });
    },
  );
});

it('an approval asks for offline_access only when its request does: by default no refresh token is issued', async () => {
  const { workflowId } = await keycloak.approvals.start({
    loginHint: 'alice@example.com',
    bindingMessage: bindingMessage('Scope'),
  });
  ran.push({ worker: keycloak, workflowId });
  const { authReqId } = await waitForApprovalState(keycloak.temporal, workflowId, isPending);
  await device.decide(authReqId!, 'approve');
  const outcome = await outcomeWithin(keycloak.approvals, workflowId, HANG_DETECTOR_MS);
  if (outcome.kind !== 'approved') throw new Error(`expected tokens, got ${outcome.type}: ${outcome.message}`);
  expect(outcome.result.refreshToken).toBeUndefined();

  const asked = (await providerLog(providerUrl, { authReqId })).filter((e) => e.endpoint === 'bc-authorize');
  expect(asked.map((e) => e.scope)).toEqual(['openid']);
});

it('CibaClient.revokeToken with private_key_jwt: refresh token, then access token; an unknown token is fine', async () => {
  // The private_key_jwt client ciba-agent-jwt, with the key pair the provider generated in its data folder.
  const { jwks, keyFile } = loadOrCreateClientKey(provider.dataDir);
  const pem = readFileSync(keyFile, 'utf8');
  const keyId = jwks.keys[0]!.kid!;
  const ciba = await CibaClient.create({
    issuer: new URL(outer.url),
    clientId: `${CLIENT_ID}-jwt`,
    clientAuth: { method: 'private_key_jwt', privateKey: createPrivateKey(pem), keyId, signingAlg: 'RS256' },
    httpTimeoutMs: 10_000,
  });
  try {
    const request = ApprovalRequestSchema.parse({
      loginHint: 'bob@example.com',
      bindingMessage: bindingMessage('Revoke-jwt'),
      scope: 'openid offline_access',
    });
    const { authReqId } = await ciba.requestBackchannelAuthentication(request);
    await device.decide(authReqId, 'approve');
    const answer = await waitUntil(async () => {
      const poll: PollOutcome = await ciba.pollToken(authReqId);
      if (poll.kind !== 'authorization_pending' && poll.kind !== 'slow_down') return poll;
      await sleep(1_000); // the provider's interval
      return undefined;
    }, 'the approved token response');
    if (answer.kind !== 'approved') throw new Error(`expected tokens, got ${answer.kind}`);
    const { accessToken, refreshToken } = answer.tokens;

    // Introspection as the same client (RFC 7662): a client sees only its own tokens.
    const as = await ciba.authorizationServer();
    const auth = oauth.PrivateKeyJwt({ key: await importPKCS8(pem, 'RS256'), kid: keyId });
    const client = { client_id: `${CLIENT_ID}-jwt` };
    const isActive = async (token: string, hint: string) =>
      (
        await oauth.processIntrospectionResponse(
          as,
          client,
          await oauth.introspectionRequest(as, client, auth, token, {
            [oauth.allowInsecureRequests]: true,
            additionalParameters: { token_type_hint: hint },
          }),
        )
      ).active;
    expect([await isActive(refreshToken!, 'refresh_token'), await isActive(accessToken, 'access_token')]).toEqual([
      true,
      true,
    ]);

    await ciba.revokeToken(refreshToken!, 'refresh_token');
    await ciba.revokeToken(accessToken, 'access_token');
    expect([await isActive(refreshToken!, 'refresh_token'), await isActive(accessToken, 'access_token')]).toEqual([
      false,
      false,
    ]);
    await expect(ciba.revokeToken('no-such-token', 'refresh_token')).resolves.toBeUndefined(); // RFC 7009 2.2
    expect(await ciba.revocationEndpoint()).toBe(`${outer.url}/oauth/revoke`);
  } finally {
    await ciba.close();
  }
});

it('the histories of these approvals (patch markers, revocation, cancellation after the answer) replay', async () => {
  expect(ran).toHaveLength(6);
  const histories = await Promise.all(
    ran.map(async ({ worker, workflowId }) => ({
      workflowId,
      history: await worker.temporal.workflow.getHandle(workflowId).fetchHistory(),
    })),
  );
  // Each run took the revocation patch (else this replay would prove nothing about the new code): through the baseline
  // marker that stands for it in new runs (workflows/patches.ts).
  expect(APPROVAL_PATCHES).toContain('revoke-unreturned-tokens');
  const patches = ({ history }: (typeof histories)[number]) =>
    (history.events ?? [])
      .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')
      .flatMap((e) => Object.values(e.markerRecordedEventAttributes?.details ?? {}))
      .flatMap((payloads) => payloads.payloads ?? [])
      .map((payload) => Buffer.from(payload.data ?? []).toString());
  for (const run of histories) expect(patches(run).join(' ')).toContain(APPROVAL_BASELINE);
  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories(
    {
      workflowsPath: require.resolve('../workflows'),
      dataConverter: workerDataConverter(temporalSettings({ CIBA_PAYLOAD_KEY: sharedStack().payloadKey })),
      interceptors: { workflowModules: workerInterceptors.workflowModules },
    },
    histories,
  )) {
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  expect(failures).toEqual([]);
});

/**
 * "Approved" means the user approved exactly this: against a provider that behaves like Keycloak 26 (the local
 * provider with IDP_BEHAVIOUR=keycloak: it accepts authorization_details, ignores them, and issues tokens bound to
 * nothing), and the provider profiles that check a request before it is sent.
 */
import { ApplicationFailure } from '@temporalio/common';
import { createCibaActivities } from '../activities/activities';
import { ApprovalClient, InvalidApprovalRequestError } from '../client/approvals';
import { CibaClient } from '../activities/ciba-protocol';
import { ApprovalRequestSchema, AUTHORIZATION_DETAILS_HARD_LIMITS } from '../common/approval';
import { PaymentSchema, paymentAuthorizationDetails, paymentBindingMessage } from '../common/payment';
import { PROVIDER_PROFILES } from '../common/provider-profile';
import { isPending, jwtPayload, waitForApprovalState } from './support/approvals';
import { outcomeWithin, type ApprovalOutcome } from './support/approval-outcome';
import { providerLog, sharedStack } from './support/stack';
import { HANG_DETECTOR_MS } from './support/wait';
import { useProviderFixture } from './support/worker-fixture';
import { randomUUID } from 'node:crypto';

// Above the hang detectors of the waits a test makes in a row.
jest.setTimeout(3 * HANG_DETECTOR_MS);

const PAYMENT = PaymentSchema.parse({ amount: '50.00', currency: 'USD', creditorName: 'ExampleCorp' });
const DETAILS = paymentAuthorizationDetails(PAYMENT);

/** A local provider that behaves like Keycloak, and a worker with the keycloak profile. */
const keycloakLike = useProviderFixture(
  'trust-keycloak',
  { IDP_BEHAVIOUR: 'keycloak' },
  { CIBA_PROVIDER_PROFILE: 'keycloak' },
);

/** A binding message Keycloak accepts (no spaces), unique to the test. */
const keycloakMessage = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

async function outcome(workflowId: string): Promise<ApprovalOutcome> {
  return outcomeWithin(keycloakLike.approvals, workflowId, HANG_DETECTOR_MS);
}

async function approveWhenAsked(workflowId: string): Promise<string> {
  const state = await waitForApprovalState(keycloakLike.temporal, workflowId, isPending);
  await keycloakLike.device.decide(state.authReqId!, 'approve');
  return state.authReqId!;
}

it('a provider that ignores RAR: the user approves, the approval ends AuthorizationDetailsNotGranted, no tokens', async () => {
  const bindingMessage = keycloakMessage('Pay-50.00-USD');
  const { workflowId } = await keycloakLike.approvals.start({
    loginHint: 'alice@example.com',
    bindingMessage,
    authorizationDetails: DETAILS,
  });
  const authReqId = await approveWhenAsked(workflowId);

  const result = await outcome(workflowId);
  if (result.kind !== 'failed')
    throw new Error(`expected a failure, got tokens for ${JSON.stringify(result.result.authorizationDetails)}`);
  expect(result.type).toBe('AuthorizationDetailsNotGranted');
  expect(result.message).toContain('granted none of the requested authorization_details');
  expect(result.details).toEqual([{ requested: DETAILS, granted: [] }]);
  expect(JSON.stringify(result)).not.toMatch(/eyJ/); // no token in what the agent gets

  // The provider did issue tokens (the poll answered 200): the workflow refused them.
  const polls = (await providerLog(keycloakLike.provider.issuer, { authReqId })).filter((e) => e.endpoint === 'token');
  expect(polls.at(-1)?.status).toBe(200);
  const { approval } = await keycloakLike.approvals.status(workflowId);
  expect(approval?.status).toBe('failed');
  expect(approval?.failure?.type).toBe('AuthorizationDetailsNotGranted');
  expect(approval?.asks.map((ask) => ask.outcome)).toEqual(['not_granted']);
});

it('ungrantedAuthorizationDetails: "accept" lets an approval without RAR through, for providers without it', async () => {
  const bindingMessage = keycloakMessage('Pay-50.00-USD');
  const { workflowId } = await keycloakLike.approvals.start({
    loginHint: 'alice@example.com',
    bindingMessage,
    authorizationDetails: DETAILS,
    ungrantedAuthorizationDetails: 'accept',
  });
  await approveWhenAsked(workflowId);
  const result = await outcome(workflowId);
  if (result.kind !== 'approved') throw new Error(`expected tokens, got ${result.type}: ${result.message}`);
  expect(result.result.authorizationDetails).toBeUndefined();
  expect(jwtPayload(result.result.accessToken).authorization_details).toBeUndefined();
});

it('the keycloak profile refuses a binding message Keycloak would refuse, before anything is sent', async () => {
  const bindingMessage = `${paymentBindingMessage(PAYMENT)} ${randomUUID().slice(0, 8)}`; // "Pay 50.00 USD ...": spaces
  // A client that knows the profile (CIBA_PROVIDER_PROFILE) refuses it before starting anything...
  const refused = await keycloakLike.approvals
    .start({ loginHint: 'alice@example.com', bindingMessage })
    .catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(InvalidApprovalRequestError);
  expect((refused as Error).message).toMatch(/no spaces.*provider profile keycloak/);
  // ...and for a client that does not know it, the worker refuses it before anything is sent.
  const unaware = new ApprovalClient(keycloakLike.approvals.client, keycloakLike.approvals.taskQueue);
  const { workflowId } = await unaware.start({ loginHint: 'alice@example.com', bindingMessage });
  const result = await outcome(workflowId);
  expect(result).toMatchObject({
    kind: 'failed',
    type: 'InvalidApprovalRequest',
    message: expect.stringMatching(/^bindingMessage must be 1 to 50 characters .*no spaces.*provider profile keycloak/),
  });
  const sent = (await providerLog(keycloakLike.provider.issuer, {})).filter(
    (e) => e.endpoint === 'bc-authorize' && e.bindingMessage?.startsWith('Pay 50.00'),
  );
  expect(sent).toEqual([]);
});

it("the sample agent chooses a binding message that fits Keycloak's rule", () => {
  expect(paymentBindingMessage(PAYMENT, 'keycloak')).toBe('Pay-50.00-USD-to-ExampleCorp');
  expect(paymentBindingMessage({ ...PAYMENT, creditorName: 'Müller & Söhne GmbH' }, 'keycloak')).toMatch(
    /^[a-zA-Z0-9-._+/!?#]{1,50}$/,
  );
});

it('an unknown user at Keycloak (invalid_request / invalid_user) is named unknown_user_id', async () => {
  const { workflowId } = await keycloakLike.approvals.start({
    loginHint: 'mallory@example.com',
    bindingMessage: keycloakMessage('Hello'),
  });
  const result = await outcome(workflowId);
  expect(result).toMatchObject({
    kind: 'failed',
    type: 'CibaProviderError',
    details: [
      { error: 'invalid_request', errorDescription: 'invalid_user', status: 400, cibaError: 'unknown_user_id' },
    ],
  });
});

it('a provider that refuses a request as too large (HTTP 413) is a provider rejection, not an invalid answer', async () => {
  // A profile with no limits of its own, so that the request reaches the local provider (which takes 56 KB at most).
  const unlimited = { ...PROVIDER_PROFILES.generic, authorizationDetails: AUTHORIZATION_DETAILS_HARD_LIMITS };
  const ciba = new CibaClient({
    issuer: new URL(sharedStack().issuer),
    clientId: 'ciba-agent',
    clientAuth: { method: 'client_secret_basic', clientSecret: 'ciba-agent-secret' },
    httpTimeoutMs: 10_000,
  });
  try {
    const request = ApprovalRequestSchema.parse({
      loginHint: 'alice@example.com',
      bindingMessage: 'Pay 50.00 USD to ExampleCorp',
      authorizationDetails: Array.from({ length: 10 }, (_, i) => ({
        type: 'payment_initiation',
        note: `${i}`.repeat(6_000),
      })),
    });
    const failure = await createCibaActivities(ciba, unlimited)
      .requestBackchannelAuthentication(request)
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({
      type: 'CibaProviderError',
      nonRetryable: true,
      details: [{ error: 'invalid_request', status: 413, cibaError: 'invalid_request' }],
    });
  } finally {
    await ciba.close();
  }
});

/**
 * IDP_BEHAVIOUR=keycloak: the local provider answers where Keycloak 26 differs from Auth0 (FACTS.md): binding
 * message rule, unknown user, authorization_details accepted but never granted.
 */
import { createRemoteJWKSet, jwtVerify } from 'jose';

import { getJson, pollUntilDone, postForm, postJson, startIdp, stopAllIdps, type LocalIdp } from './support/local-idp';
import { HANG_DETECTOR_MS } from './support/wait';

// Above the hang detectors of the waits a test makes in a row (providers started).
jest.setTimeout(3 * HANG_DETECTOR_MS);

const RESOURCE = 'https://api.example.com/payments';
const PAYMENT = {
  type: 'payment_initiation',
  instructedAmount: { currency: 'USD', amount: '50.00' },
  creditorName: 'ExampleCorp',
};

let idp: LocalIdp;

beforeAll(async () => {
  idp = await startIdp({ IDP_BEHAVIOUR: 'keycloak' });
});
afterAll(stopAllIdps);

const bcAuthorize = (params: Record<string, string>) =>
  postForm(`${idp.issuer}/bc-authorize`, { scope: 'openid', login_hint: 'alice@example.com', ...params });

test('authorization_details are accepted, shown on the device, and granted nowhere', async () => {
  const res = await bcAuthorize({
    scope: 'openid payments:write',
    binding_message: 'Pay-50.00-USD-to-ExampleCorp',
    authorization_details: JSON.stringify([PAYMENT]),
  });
  expect(res.status).toBe(200);
  const authReqId = res.body.auth_req_id as string;

  const pending = await getJson(`${idp.issuer}/device/requests`);
  expect(pending.find((r: any) => r.auth_req_id === authReqId)?.authorization_details).toEqual([PAYMENT]);
  expect((await postJson(`${idp.issuer}/device/requests/${authReqId}/approve`)).body).toEqual({ status: 'approved' });

  const tokens = await pollUntilDone(idp.issuer, authReqId, res.body.interval);
  expect(tokens.status).toBe(200);
  expect(tokens.body.access_token).toEqual(expect.any(String));
  expect(tokens.body).not.toHaveProperty('authorization_details');
  const discovery = await getJson(`${idp.issuer}/.well-known/openid-configuration`);
  const at = await jwtVerify(tokens.body.access_token, createRemoteJWKSet(new URL(discovery.jwks_uri)), {
    issuer: idp.issuer,
    audience: RESOURCE,
  });
  expect(at.payload).toMatchObject({ sub: 'auth0|alice', scope: 'payments:write' });
  expect(at.payload).not.toHaveProperty('authorization_details');

  // Nothing granted, so the demo API refuses the payment.
  const paid = await postJson(
    `${idp.issuer}/api/payments`,
    { amount: '50.00', currency: 'USD', creditorName: 'ExampleCorp' },
    { authorization: `Bearer ${tokens.body.access_token}` },
  );
  expect([paid.status, paid.body.error]).toEqual([403, 'insufficient_authorization_details']);
});

test("binding_message: Keycloak's rule (no spaces, at most 50 of [a-zA-Z0-9-._+/!?#]), and optional", async () => {
  for (const bad of ['Pay 50 USD', 'x'.repeat(51), 'Pay:50']) {
    const res = await bcAuthorize({ binding_message: bad });
    expect([bad, res.status, res.body.error]).toEqual([bad, 400, 'invalid_binding_message']);
  }
  for (const good of ['Pay-50.00/USD?#1!', 'x'.repeat(50)]) {
    expect((await bcAuthorize({ binding_message: good })).status).toBe(200);
  }
  expect((await bcAuthorize({})).status).toBe(200);
});

test('an unknown user is invalid_request / invalid_user', async () => {
  const issSub = JSON.stringify({ format: 'iss_sub', iss: idp.issuer, sub: 'auth0|mallory' });
  for (const loginHint of ['mallory@example.com', issSub]) {
    const res = await bcAuthorize({ login_hint: loginHint, binding_message: 'Pay-50' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: 'invalid_user' });
  }
});

test('IDP_BEHAVIOUR takes auth0 or keycloak only', async () => {
  await expect(startIdp({ IDP_BEHAVIOUR: 'okta' })).rejects.toThrow(/IDP_BEHAVIOUR/);
});

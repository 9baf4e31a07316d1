/**
 * Real tokens from a local provider (test/support/local-idp.ts): a CIBA request for alice, approved on the device
 * API, polled until the token response. Its access token is a JWT (`typ: at+jwt`) for the requested API; its ID
 * token is for the client (`aud: ciba-agent`), untyped, signed by the same keys.
 */
import { pollUntilDone, postForm, postJson } from './local-idp';

export interface ProviderTokens {
  accessToken: string;
  idToken: string;
}

/**
 * Tokens for the API `audience` (Auth0-style `audience`: the resource indicator) with `scope` (OIDC and API scopes),
 * once `user` (default alice) approved on the device API.
 */
export async function approvedTokens(
  issuer: string,
  { audience, scope, user = 'alice' }: { audience: string; scope: string; user?: string },
): Promise<ProviderTokens> {
  const asked = await postForm(`${issuer}/bc-authorize`, {
    scope,
    audience,
    login_hint: user,
    binding_message: 'Read the approvals',
  });
  if (asked.status !== 200) throw new Error(`bc-authorize: ${asked.status} ${JSON.stringify(asked.body)}`);
  const authReqId = String(asked.body.auth_req_id);
  const approved = await postJson(`${issuer}/device/requests/${encodeURIComponent(authReqId)}/approve`);
  if (approved.status !== 200) throw new Error(`approve: ${approved.status} ${JSON.stringify(approved.body)}`);
  const tokens = await pollUntilDone(issuer, authReqId, Number(asked.body.interval));
  if (tokens.status !== 200) throw new Error(`token: ${tokens.status} ${JSON.stringify(tokens.body)}`);
  return { accessToken: String(tokens.body.access_token), idToken: String(tokens.body.id_token) };
}

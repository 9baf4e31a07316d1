/**
 * "Approved" means the user approved exactly what was asked: when an approval asked for authorization_details
 * (RFC 9396), the provider must have granted them. A provider that ignores RAR (Keycloak 26 accepts the parameter
 * and grants nothing) issues tokens bound to nothing; those must not reach the agent as an approval.
 *
 * The access token's own `authorization_details` claim (a JWT's) must say the same as the token response: that claim
 * is what a resource server honours.
 *
 * Pure functions, no Temporal: unit-tested in test/granted.test.ts.
 */
import type { AuthorizationDetail } from '../common/approval';

export type GrantCheck =
  | { ok: true }
  | {
      ok: false;
      message: string;
      requested: AuthorizationDetail[];
      granted: AuthorizationDetail[];
      /** The access token's claim, when it is what differs from `granted`. */
      grantedInAccessToken?: AuthorizationDetail[];
    };

/**
 * Compares what was requested with what the provider granted (from the token response, or a JWT access token's
 * `authorization_details` claim). Each requested entry must be granted by a distinct granted entry that holds all
 * of its members with equal values (a provider may add members, e.g. identifiers it assigned), and nothing else
 * may be granted. `ungranted: 'accept'` lets an answer that grants nothing at all pass (providers without RAR).
 */
export function checkGrantedAuthorizationDetails(
  requested: AuthorizationDetail[] | undefined,
  granted: AuthorizationDetail[] | undefined,
  ungranted: 'fail' | 'accept',
): GrantCheck {
  if (!requested?.length) return { ok: true };
  const fail = (message: string): GrantCheck => ({ ok: false, message, requested, granted: granted ?? [] });
  if (!granted?.length) {
    return ungranted === 'accept'
      ? { ok: true }
      : fail(
          'the user approved, but the provider granted none of the requested authorization_details (it may not ' +
            'support RAR), so the tokens are not bound to this transaction; set ungrantedAuthorizationDetails: ' +
            '"accept" only for providers without RAR',
        );
  }
  const unmatched = [...granted];
  for (const [index, entry] of requested.entries()) {
    const match = unmatched.findIndex((candidate) => covers(candidate, entry));
    if (match < 0) {
      return fail(
        `the provider did not grant authorizationDetails[${index}] (type "${entry.type}") as requested, so the ` +
          `tokens are not bound to this transaction`,
      );
    }
    unmatched.splice(match, 1);
  }
  if (unmatched.length) {
    return fail(
      `the provider granted ${unmatched.length} authorization_details entr${unmatched.length === 1 ? 'y' : 'ies'} ` +
        `that were not requested (type ${unmatched.map((e) => `"${String(e.type)}"`).join(', ')})`,
    );
  }
  return { ok: true };
}

/**
 * The tokens' grant: the token response's `authorization_details` checked against the request (as above) and, when
 * the access token is a JWT with an `authorization_details` claim (RFC 9396 section 9.1), that claim must equal them:
 * the resource server honours the claim, so a token that says more (or other) than the response is not what the
 * user approved. `compareAccessTokenClaim: false` checks the response alone (runs recorded before the claim check).
 */
export function checkGrantedTokens(
  requested: AuthorizationDetail[] | undefined,
  tokens: { accessToken: string; authorizationDetails?: AuthorizationDetail[] },
  ungranted: 'fail' | 'accept',
  options: { compareAccessTokenClaim: boolean } = { compareAccessTokenClaim: true },
): GrantCheck {
  const check = checkGrantedAuthorizationDetails(requested, tokens.authorizationDetails, ungranted);
  if (!check.ok || !options.compareAccessTokenClaim) return check;
  const claim = accessTokenClaim(tokens.accessToken, 'authorization_details');
  if (!claim.present || sameAuthorizationDetails(claim.value, tokens.authorizationDetails ?? [])) return check;
  return {
    ok: false,
    message:
      "the access token's authorization_details claim differs from the authorization_details of the token " +
      'response, so the token may grant what the user did not approve',
    requested: requested ?? [],
    granted: tokens.authorizationDetails ?? [],
    ...(Array.isArray(claim.value) ? { grantedInAccessToken: claim.value as AuthorizationDetail[] } : {}),
  };
}

/**
 * A claim of a JWT access token, read without checking its signature (it came straight from the token endpoint; the
 * resource server verifies it). An opaque token, or a JWT whose payload is not a JSON object, has no claims.
 */
export function accessTokenClaim(
  accessToken: string,
  name: string,
): { present: false } | { present: true; value: unknown } {
  const parts = accessToken.split('.');
  if (parts.length !== 3) return { present: false };
  let claims: unknown;
  try {
    claims = JSON.parse(base64UrlToText(parts[1]!));
  } catch {
    return { present: false };
  }
  if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) return { present: false };
  return Object.prototype.hasOwnProperty.call(claims, name)
    ? { present: true, value: (claims as Record<string, unknown>)[name] }
    : { present: false };
}

/** Equal lists of authorization_details entries, in any order: each entry equals exactly one of the other list's. */
export function sameAuthorizationDetails(a: unknown, b: unknown): boolean {
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  const unmatched = [...b];
  for (const entry of a) {
    const match = unmatched.findIndex((candidate) => deepEqual(entry, candidate));
    if (match < 0) return false;
    unmatched.splice(match, 1);
  }
  return true;
}

/** JSON equality: objects member by member (any order), arrays element by element. */
function deepEqual(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (a !== null && typeof a === 'object' && b !== null && typeof b === 'object') {
    const left = a as Record<string, unknown>;
    const right = b as Record<string, unknown>;
    const keys = Object.keys(left);
    return (
      keys.length === Object.keys(right).length &&
      keys.every((key) => Object.prototype.hasOwnProperty.call(right, key) && deepEqual(left[key], right[key]))
    );
  }
  return Object.is(a, b);
}

/** base64url (RFC 4648 section 5) to UTF-8 text, without Buffer or atob (this file runs in the workflow sandbox). */
function base64UrlToText(encoded: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  if (!/^[A-Za-z0-9_-]*$/.test(encoded) || encoded.length % 4 === 1) throw new SyntaxError('not base64url');
  let bits = 0;
  let value = 0;
  let escaped = '';
  for (const char of encoded) {
    value = ((value << 6) | alphabet.indexOf(char)) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      escaped += `%${((value >> bits) & 0xff).toString(16).padStart(2, '0')}`;
    }
  }
  return decodeURIComponent(escaped); // throws on invalid UTF-8
}

/** Whether `granted` holds every member of `requested` with an equal value (objects may add members; arrays may not). */
export function covers(granted: unknown, requested: unknown): boolean {
  if (Array.isArray(requested)) {
    return (
      Array.isArray(granted) && granted.length === requested.length && requested.every((r, i) => covers(granted[i], r))
    );
  }
  if (requested !== null && typeof requested === 'object') {
    if (granted === null || typeof granted !== 'object' || Array.isArray(granted)) return false;
    const grantedObject = granted as Record<string, unknown>;
    return Object.entries(requested).every(
      ([key, value]) => Object.prototype.hasOwnProperty.call(grantedObject, key) && covers(grantedObject[key], value),
    );
  }
  return Object.is(granted, requested);
}

/**
 * "Approved" means the user approved exactly what was asked: when an approval asked for authorization_details
 * (RFC 9396), the provider must have granted them. A provider that ignores RAR (Keycloak 26 accepts the parameter
 * and grants nothing) issues tokens bound to nothing; those must not reach the agent as an approval.
 *
 * Pure functions, no Temporal: unit-tested in test/granted.test.ts.
 */
import type { AuthorizationDetail } from '../common/approval';

export type GrantCheck =
  { ok: true } | { ok: false; message: string; requested: AuthorizationDetail[]; granted: AuthorizationDetail[] };

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

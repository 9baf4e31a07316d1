/**
 * The Temporal API as a resource of the local provider: client-credentials clients whose JWT access tokens carry the
 * `permissions` claim that the Temporal server's default JWT claim mapper reads (`<namespace>:<role>`, the system
 * namespace `temporal-system` for cluster-wide roles). `npm run cluster` turns the server's authorizer on and gives
 * these clients' secrets to its workers and API instances (devstack/cluster/, docs/cluster-auth.md).
 *
 * Only the clients named here may ask for this resource, and only through client credentials: a user's CIBA token is
 * never a Temporal token.
 */
import type { ClientMetadata } from 'oidc-provider';
import { z } from 'zod';

/** Resource indicator (RFC 8707) / Auth0 audience of the Temporal API; the server checks it as `audience`. */
export const TEMPORAL_RESOURCE = 'urn:ciba-temporal:temporal';
export const TEMPORAL_RESOURCE_SCOPE = 'temporal';

/** Each client and the `permissions` its tokens carry (namespace `default`, as the cluster registers it). */
export const TEMPORAL_CLIENT_PERMISSIONS = {
  /** Approval workers and the HTTP API: start, signal, query, poll task queues in `default`. */
  'temporal-worker': ['default:write'],
  /** Read-only: describe, list, query, fetch history in `default`. */
  'temporal-reader': ['default:read'],
  /** Operators: every API on every namespace (e.g. `temporal operator ...`). */
  'temporal-admin': ['temporal-system:admin'],
} as const satisfies Record<string, readonly string[]>;
export type TemporalClientId = keyof typeof TEMPORAL_CLIENT_PERMISSIONS;

/** IDP_TEMPORAL_CLIENT_SECRETS: JSON `{"temporal-worker": "secret", ...}`; only the clients named get registered. */
export const TemporalClientSecretsJson = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be JSON: {"temporal-worker":"<secret>", ...}' });
      return z.NEVER;
    }
  })
  .pipe(
    z.partialRecord(
      z.enum(Object.keys(TEMPORAL_CLIENT_PERMISSIONS) as [TemporalClientId, ...TemporalClientId[]]),
      z.string().min(16, 'each secret must have at least 16 characters'),
    ),
  );
export type TemporalClientSecrets = Partial<Record<TemporalClientId, string>>;

export function isTemporalClient(clientId: string | undefined): clientId is TemporalClientId {
  return clientId !== undefined && Object.hasOwn(TEMPORAL_CLIENT_PERMISSIONS, clientId);
}

/** The client-credentials clients for the given secrets. */
export function temporalClients(secrets: TemporalClientSecrets = {}): ClientMetadata[] {
  return Object.entries(secrets).map(([clientId, secret]) => ({
    client_id: clientId,
    client_secret: secret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
  }));
}

/** The extra claims of an access token: `permissions` for a Temporal client's client-credentials token only. */
export function temporalTokenClaims(token: {
  kind?: string;
  clientId?: string;
  aud?: string | string[];
}): { permissions: string[] } | undefined {
  const audiences = Array.isArray(token.aud) ? token.aud : [token.aud];
  if (token.kind !== 'ClientCredentials' || !isTemporalClient(token.clientId)) return undefined;
  if (!audiences.includes(TEMPORAL_RESOURCE)) return undefined;
  return { permissions: [...TEMPORAL_CLIENT_PERMISSIONS[token.clientId]] };
}

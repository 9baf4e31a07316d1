import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { z } from 'zod';

import { IDP_BEHAVIOURS } from './behaviour';
import { ClientJwksJson, clientJwksFromEnv, type ClientJwks } from './client-keys';
import { DEFAULT_PING_NOTIFICATION_ENDPOINT } from './provider';
import { EXTRA_TYPE_NAME } from './rar';
import { TemporalClientSecretsJson } from './temporal-clients';
import { MAX_TEST_USERS } from './users';
import type { ProviderOptions } from './server';

/** The repository root (this file lives in <root>/provider). */
const REPO_ROOT = path.resolve(__dirname, '..');

/** Unset and empty variables both mean "use the default". */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), schema.optional());

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Every IDP_* variable the local provider reads. */
export const ProviderEnvSchema = z.object({
  IDP_HOST: optional(z.string()),
  IDP_PORT: optional(int(0, 65535)),
  IDP_ISSUER: optional(z.url({ protocol: /^https?$/ })),
  IDP_DATA_DIR: optional(z.string()),
  IDP_POLL_INTERVAL: optional(int(1, 3600)),
  IDP_SLOW_DOWN_EVERY: optional(int(0, 1000)),
  IDP_CLIENT_ID: optional(z.string().regex(/^[\x21-\x7E]+$/, 'must be printable ASCII without spaces')),
  IDP_CLIENT_SECRET: optional(z.string().min(8)),
  /** Public keys (a JWK Set, JSON) of the private_key_jwt client `<IDP_CLIENT_ID>-jwt`... */
  IDP_CLIENT_JWKS: optional(ClientJwksJson),
  /** ...or a file holding them. Neither: a key pair generated at first start (private key in the data folder). */
  IDP_CLIENT_JWKS_FILE: optional(z.string()),
  IDP_RESOURCE: optional(z.url()),
  /** Whose rules to follow where Auth0 and Keycloak differ (provider/behaviour.ts). */
  IDP_BEHAVIOUR: optional(z.enum(IDP_BEHAVIOURS)).default('auth0'),
  /** Where the provider pings the ping-mode client `<IDP_CLIENT_ID>-ping` (CIBA requires https). */
  IDP_PING_NOTIFICATION_ENDPOINT: optional(z.url({ protocol: /^https$/ })).default(DEFAULT_PING_NOTIFICATION_ENDPOINT),
  /** A PEM file with the CA certificate(s) of that endpoint, trusted besides Node's CAs (e.g. a local dev CA). */
  IDP_PING_CA_FILE: optional(z.string()),
  /** More authorization_details types to accept (comma-separated), with any members; the device shows them as tables. */
  IDP_EXTRA_AUTHORIZATION_DETAILS_TYPES: optional(
    z
      .string()
      .transform((list) => [...new Set(list.split(',').map((name) => name.trim()))].filter(Boolean))
      .pipe(z.array(z.string().regex(EXTRA_TYPE_NAME, 'each type must be a printable name without spaces'))),
  ),
  /** Secrets of the Temporal API's client-credentials clients, JSON `{"temporal-worker":"...", ...}` (temporal-clients.ts). */
  IDP_TEMPORAL_CLIENT_SECRETS: optional(TemporalClientSecretsJson),
  /** Dev-only: also accept the generated users user1..userN (user<n>@example.com), for load and fault tests. */
  IDP_TEST_USERS: optional(int(0, MAX_TEST_USERS)),
});

/** Reads provider options from the environment; throws an Error naming each bad variable. */
export function providerOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): ProviderOptions {
  const parsed = ProviderEnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid provider environment: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  return {
    host: e.IDP_HOST,
    port: e.IDP_PORT,
    issuer: e.IDP_ISSUER,
    // Relative paths are taken from the working directory; the default lives in the repository.
    dataDir: e.IDP_DATA_DIR ? path.resolve(e.IDP_DATA_DIR) : path.join(REPO_ROOT, '.data', 'idp'),
    pollInterval: e.IDP_POLL_INTERVAL,
    slowDownEvery: e.IDP_SLOW_DOWN_EVERY,
    clientId: e.IDP_CLIENT_ID,
    clientSecret: e.IDP_CLIENT_SECRET,
    clientJwks: clientJwksFromEnv(e.IDP_CLIENT_JWKS as ClientJwks | undefined, e.IDP_CLIENT_JWKS_FILE),
    resource: e.IDP_RESOURCE,
    behaviour: e.IDP_BEHAVIOUR,
    pingNotificationEndpoint: e.IDP_PING_NOTIFICATION_ENDPOINT,
    pingCa: e.IDP_PING_CA_FILE === undefined ? undefined : readCaFile(e.IDP_PING_CA_FILE),
    extraAuthorizationDetailsTypes: e.IDP_EXTRA_AUTHORIZATION_DETAILS_TYPES,
    temporalClientSecrets: e.IDP_TEMPORAL_CLIENT_SECRETS,
    testUsers: e.IDP_TEST_USERS,
  };
}

/** The PEM text of a CA file; throws an Error naming IDP_PING_CA_FILE when it is unreadable or not a certificate. */
function readCaFile(file: string): string {
  let pem: string;
  try {
    pem = fs.readFileSync(path.resolve(file), 'utf8');
  } catch (err) {
    throw new Error(`invalid provider environment: IDP_PING_CA_FILE: cannot read ${file} (${(err as Error).message})`, {
      cause: err,
    });
  }
  try {
    new crypto.X509Certificate(pem); // the first certificate must parse
  } catch (err) {
    throw new Error(`invalid provider environment: IDP_PING_CA_FILE: ${file} holds no PEM certificate`, { cause: err });
  }
  return pem;
}

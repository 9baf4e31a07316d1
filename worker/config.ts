/**
 * The worker's configuration: one zod schema over the environment, read once at start. A missing or wrong
 * setting stops the worker before it connects, with a message that names the variable.
 * Temporal's connection settings (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*,
 * TEMPORAL_PROFILE) are read by @temporalio/envconfig in common/config.ts.
 */
import { z } from 'zod';
import { parseEnv, temporalSettings, type TemporalSettings } from '../common/config';
import type { CibaClientConfig } from '../activities/ciba-protocol';

const WorkerEnvSchema = z.object({
  /** The provider's issuer URL; endpoints come from its OpenID discovery document. */
  CIBA_ISSUER: z.url({ protocol: /^https?$/, error: 'must be the provider issuer URL, e.g. https://TENANT.auth0.com/' }),
  CIBA_CLIENT_ID: z.string().min(1),
  /** Secret of a confidential client. Only here, in the worker's environment: never in workflow input or history. */
  CIBA_CLIENT_SECRET: z.string().min(1),
  CIBA_CLIENT_AUTH_METHOD: z.enum(['client_secret_basic', 'client_secret_post']).default('client_secret_basic'),
  /** Allow a plain-http issuer that is not on this machine (containers on one host). Never in production. */
  CIBA_ALLOW_INSECURE_HTTP: z.stringbool().default(false),
  /** Timeout for connecting, for response headers and for the body, per HTTP request to the provider. */
  CIBA_HTTP_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  /** The sample agent's payments API; default: the local provider's demo API under the issuer. */
  DEMO_PAYMENTS_API_URL: z.url().optional(),
});

export interface WorkerConfig {
  temporal: TemporalSettings;
  ciba: CibaClientConfig;
  paymentsApiUrl: URL;
}

export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const parsed = parseEnv(WorkerEnvSchema, env);
  const issuer = new URL(parsed.CIBA_ISSUER);
  return {
    temporal: temporalSettings(env),
    ciba: {
      issuer,
      clientId: parsed.CIBA_CLIENT_ID,
      clientSecret: parsed.CIBA_CLIENT_SECRET,
      clientAuthMethod: parsed.CIBA_CLIENT_AUTH_METHOD,
      httpTimeoutMs: parsed.CIBA_HTTP_TIMEOUT_MS,
      allowInsecureHttp: parsed.CIBA_ALLOW_INSECURE_HTTP,
    },
    paymentsApiUrl: new URL(parsed.DEMO_PAYMENTS_API_URL ?? new URL('api/payments', withTrailingSlash(issuer)).href),
  };
}

function withTrailingSlash(url: URL): URL {
  return new URL(url.href.endsWith('/') ? url.href : `${url.href}/`);
}

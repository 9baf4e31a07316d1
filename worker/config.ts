/**
 * The worker's configuration: one zod schema over the environment, read once at start. A missing or wrong
 * setting stops the worker before it connects, with a message that names the variable.
 * Temporal's connection settings (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*,
 * TEMPORAL_PROFILE) are read by @temporalio/envconfig in common/config.ts.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, parseEnv, temporalSettings, type TemporalSettings } from '../common/config';
import {
  CLIENT_SIGNING_ALGS,
  type CibaClientConfig,
  type ClientAuthentication,
  type ClientSigningAlg,
} from '../activities/ciba-protocol';
import { defaultSigningAlg, jwkThumbprint, keyProblem, parsePrivateKey, signingAlgProblem } from './client-key';
import { POLLING_MODES, type PollingMode } from '../common/approval';
import { DEFAULT_COMPACT_TIERS, type CompactTiers } from '../common/polling';
import type { AskLimits } from '../common/ask-gate';
import { PROVIDER_PROFILES, profileForIssuer, type ProviderProfile } from '../common/provider-profile';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import { WorkerDeploymentEnv, workerDeploymentVersion } from './deployment';

/** The Prometheus endpoint of the local stack's worker. */
export const DEFAULT_METRICS_ADDRESS = '127.0.0.1:9464';
/** OTEL_SERVICE_NAME's default. */
export const DEFAULT_OTEL_SERVICE_NAME = 'ciba-worker';
const METRICS_ADDRESS = /^(\[[0-9a-fA-F:.]+\]|[\w.-]+):\d{1,5}$/;

const WorkerEnvSchema = z
  .object({
    /** The provider's issuer URL; endpoints come from its OpenID discovery document. */
    CIBA_ISSUER: z.url({
      protocol: /^https?$/,
      error: 'must be the provider issuer URL, e.g. https://TENANT.auth0.com/',
    }),
    CIBA_CLIENT_ID: z.string().min(1),
    /** How the worker authenticates at the provider: client_secret_basic (default), client_secret_post or private_key_jwt. */
    CIBA_CLIENT_AUTH_METHOD: z
      .enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt'])
      .default('client_secret_basic'),
    /**
     * Secret of a confidential client; required for the client_secret_* methods. Only here, in the worker's
     * environment: never in workflow input or history.
     */
    CIBA_CLIENT_SECRET: unsetIfEmpty(z.string()),
    /** private_key_jwt: the client's private key, PEM (PKCS#8) or a private JWK as JSON; RSA, EC P-256/384/521, Ed25519... */
    CIBA_CLIENT_PRIVATE_KEY: unsetIfEmpty(z.string()),
    /** ...or a file that holds it (e.g. a mounted secret). */
    CIBA_CLIENT_PRIVATE_KEY_FILE: unsetIfEmpty(z.string()),
    /** private_key_jwt: the `kid` the provider knows the key by. Default: the JWK's kid, else the RFC 7638 thumbprint. */
    CIBA_CLIENT_KEY_ID: unsetIfEmpty(z.string()),
    /** private_key_jwt: the assertion's `alg`. Default: the JWK's alg, else RS256 (RSA), ES256/384/512 (EC), EdDSA (Ed25519). */
    CIBA_CLIENT_SIGNING_ALG: unsetIfEmpty(z.enum(CLIENT_SIGNING_ALGS)),
    /** Allow a plain-http issuer that is not on this machine (containers on one host). Never in production. */
    CIBA_ALLOW_INSECURE_HTTP: z.stringbool().default(false),
    /** Timeout for connecting, for response headers and for the body, per HTTP request to the provider. */
    CIBA_HTTP_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
    /** How approvals whose request names no pollingMode wait: `timer` (default) or `compact` (README: Polling modes). */
    CIBA_POLLING_MODE: z.enum(POLLING_MODES).default('timer'),
    /**
     * Activities this worker runs at once. A compact-mode approval holds one for as long as it waits, so this bounds the
     * approvals one worker polls in compact mode; timer-mode polls hold one for a single HTTP request.
     */
    CIBA_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).max(100_000).default(2_000),
    /**
     * Compact mode: seconds after each ask during which its polling activity heartbeats often (a dead worker noticed
     * within 20 s); then the slow tier, heartbeating every CIBA_COMPACT_SLOW_HEARTBEAT_SECONDS (docs/waiting-costs.md).
     */
    CIBA_COMPACT_FAST_SECONDS: z.coerce.number().int().min(0).max(86_400).default(DEFAULT_COMPACT_TIERS.fastSeconds),
    CIBA_COMPACT_SLOW_HEARTBEAT_SECONDS: z.coerce
      .number()
      .int()
      .min(1)
      .max(86_400)
      .default(DEFAULT_COMPACT_TIERS.slowHeartbeatSeconds),
    /**
     * Workflows kept in this worker's cache (the SDK's maxCachedWorkflows); one evicted is replayed from its history at
     * its next task. Unset: COMPACT_WORKER_CACHED_WORKFLOWS on a compact worker, else the SDK's default (about 2,300
     * with Node's default heap), sized by measurement (docs/waiting-costs.md).
     */
    CIBA_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).max(100_000).optional(),
    /**
     * HTTP requests to the provider in flight at once; more wait their turn in the worker (backpressure), and the HTTP
     * timeout counts from when a request is sent, not from when it was queued.
     */
    CIBA_MAX_CONCURRENT_REQUESTS: z.coerce.number().int().min(1).max(10_000).default(64),
    /**
     * CIBA token delivery (CIBA Core 5): `poll` (default), or `ping`: the provider notifies this worker's https
     * notification endpoint when the user has decided, and the approval polls at once (and still at the interval,
     * since a ping is only a hint). The client at the provider must be registered for ping with that endpoint.
     */
    CIBA_TOKEN_DELIVERY_MODE: z.enum(['poll', 'ping']).default('poll'),
    /** Ping: the interface and port the notification endpoint (POST /ciba/notify) listens on. */
    CIBA_NOTIFICATION_HOST: z.string().min(1).default('127.0.0.1'),
    CIBA_NOTIFICATION_PORT: z.coerce.number().int().min(0).max(65_535).default(8443),
    /** Ping: the endpoint's TLS certificate (PEM, chain) and private key (PEM); CIBA requires https. */
    CIBA_NOTIFICATION_TLS_CERT_FILE: unsetIfEmpty(z.string()),
    CIBA_NOTIFICATION_TLS_KEY_FILE: unsetIfEmpty(z.string()),
    /**
     * Where the worker serves Prometheus metrics (GET /metrics): the SDK's runtime metrics and the service's own
     * (ciba_*). host:port; empty turns the endpoint off. Default: 127.0.0.1:9464 (this machine only).
     */
    CIBA_METRICS_ADDRESS: z
      .string()
      .trim()
      .default(DEFAULT_METRICS_ADDRESS)
      .refine(
        (v) => v === '' || METRICS_ADDRESS.test(v),
        'must be host:port (e.g. 127.0.0.1:9464, [::1]:9464), or empty for no metrics',
      )
      .transform((v) => (v === '' ? undefined : v)),
    /**
     * The per-user ask gate (workflows/user-asks.ts), across every approval and worker of the task queue: at most this
     * many asks pending on one user's device at once...
     */
    CIBA_USER_MAX_PENDING_ASKS: z.coerce.number().int().min(1).max(1_000_000).default(5),
    /** ...and at most this many asks to one user in any hour. A refused ask ends the approval AskRateLimited. */
    CIBA_USER_MAX_ASKS_PER_HOUR: z.coerce.number().int().min(1).max(1_000_000).default(20),
    /** The sample agent's payments API; default: the local provider's demo API under the issuer. */
    DEMO_PAYMENTS_API_URL: z.url().optional(),
    /**
     * OpenTelemetry tracing, off unless one of these is set (the standard OTLP variables): the collector's base URL
     * (traces go to `<base>/v1/traces`), or the traces URL itself (wins). Spans are sent as OTLP/HTTP JSON.
     */
    OTEL_EXPORTER_OTLP_ENDPOINT: unsetIfEmpty(z.url({ protocol: /^https?$/ })),
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: unsetIfEmpty(z.url({ protocol: /^https?$/ })),
    /** The `service.name` of the worker's spans. */
    OTEL_SERVICE_NAME: z.preprocess((v) => (v === '' ? undefined : v), z.string().default(DEFAULT_OTEL_SERVICE_NAME)),
    /** Worker Versioning (worker/deployment.ts, docs/deploys.md): CIBA_WORKER_DEPLOYMENT_NAME and CIBA_WORKER_BUILD_ID. */
    ...WorkerDeploymentEnv,
  })
  .transform(withClientAuthentication)
  .transform((env, ctx) => ({ ...env, workerDeployment: workerDeploymentVersion(env, ctx) }));

/** Ping mode: where the notification endpoint listens, and its TLS material. */
export interface NotificationEndpointConfig {
  host: string;
  port: number;
  tls: { cert: string; key: string };
}

/**
 * The workflow cache of a worker whose approvals poll in compact mode. Such an approval waits inside one activity, and
 * its workflow has nothing to do until the activity ends; evicted, it is replayed then from a short history (~25
 * events). Each cached workflow holds its own copy of the workflow modules, so the cache, not the waiting, is what
 * grows with pending approvals (docs/waiting-costs.md has the measurement). Timer-mode approvals wake every poll and
 * would replay their longer histories each time: a timer worker keeps the SDK's default.
 */
export const COMPACT_WORKER_CACHED_WORKFLOWS = 100;

export interface WorkerConfig {
  temporal: TemporalSettings;
  /** Set in ping mode. */
  notificationEndpoint?: NotificationEndpointConfig;
  pollingMode: PollingMode;
  /** The per-user ask gate's limits. */
  userAskLimits: AskLimits;
  maxConcurrentActivities: number;
  /** Compact mode's tiers, told to the approvals this worker starts (CIBA_COMPACT_*). */
  compactTiers: CompactTiers;
  /** CIBA_MAX_CACHED_WORKFLOWS, else COMPACT_WORKER_CACHED_WORKFLOWS on a compact worker; undefined: the SDK's. */
  maxCachedWorkflows?: number;
  /** CIBA_METRICS_ADDRESS: where Prometheus metrics are served; undefined: no metrics endpoint. */
  metricsAddress?: string;
  ciba: CibaClientConfig;
  providerProfile: ProviderProfile;
  paymentsApiUrl: URL;
  /** Set when an OTLP endpoint is configured: OpenTelemetry tracing (worker/tracing.ts); undefined: off. */
  tracing?: TracingConfig;
  /** Worker Versioning: this worker's deployment and build (docs/deploys.md); undefined: unversioned. */
  workerDeployment?: WorkerDeploymentVersion;
}

/** Where the worker sends its spans (OTLP/HTTP JSON), and as which service. */
export interface TracingConfig {
  /** OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT + `/v1/traces`. */
  tracesUrl: string;
  serviceName: string;
}

export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const parsed = parseEnv(WorkerEnvSchema, env);
  const issuer = new URL(parsed.CIBA_ISSUER);
  const temporal = temporalSettings(env);
  const providerProfile = PROVIDER_PROFILES[temporal.providerProfile ?? profileForIssuer(issuer)];
  return {
    temporal,
    notificationEndpoint:
      parsed.CIBA_TOKEN_DELIVERY_MODE === 'ping' ? notificationEndpoint(parsed, providerProfile) : undefined,
    pollingMode: parsed.CIBA_POLLING_MODE,
    userAskLimits: { maxPending: parsed.CIBA_USER_MAX_PENDING_ASKS, maxPerHour: parsed.CIBA_USER_MAX_ASKS_PER_HOUR },
    maxConcurrentActivities: parsed.CIBA_MAX_CONCURRENT_ACTIVITIES,
    compactTiers: {
      fastSeconds: parsed.CIBA_COMPACT_FAST_SECONDS,
      slowHeartbeatSeconds: parsed.CIBA_COMPACT_SLOW_HEARTBEAT_SECONDS,
    },
    maxCachedWorkflows:
      parsed.CIBA_MAX_CACHED_WORKFLOWS ??
      (parsed.CIBA_POLLING_MODE === 'compact' ? COMPACT_WORKER_CACHED_WORKFLOWS : undefined),
    metricsAddress: parsed.CIBA_METRICS_ADDRESS,
    ciba: {
      issuer,
      clientId: parsed.CIBA_CLIENT_ID,
      clientAuth: parsed.clientAuth,
      httpTimeoutMs: parsed.CIBA_HTTP_TIMEOUT_MS,
      maxConcurrentRequests: parsed.CIBA_MAX_CONCURRENT_REQUESTS,
      allowInsecureHttp: parsed.CIBA_ALLOW_INSECURE_HTTP,
    },
    providerProfile,
    paymentsApiUrl: new URL(parsed.DEMO_PAYMENTS_API_URL ?? new URL('api/payments', withTrailingSlash(issuer)).href),
    tracing: tracingConfig(parsed),
    workerDeployment: parsed.workerDeployment,
  };
}

/** Tracing is on when an OTLP endpoint is set; the traces URL as the OTLP specification derives it. */
function tracingConfig(env: {
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string;
  OTEL_SERVICE_NAME: string;
}): TracingConfig | undefined {
  const tracesUrl =
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
    (env.OTEL_EXPORTER_OTLP_ENDPOINT &&
      new URL('v1/traces', withTrailingSlash(new URL(env.OTEL_EXPORTER_OTLP_ENDPOINT))).href);
  return tracesUrl ? { tracesUrl, serviceName: env.OTEL_SERVICE_NAME } : undefined;
}

function notificationEndpoint(
  env: {
    CIBA_NOTIFICATION_HOST: string;
    CIBA_NOTIFICATION_PORT: number;
    CIBA_NOTIFICATION_TLS_CERT_FILE?: string;
    CIBA_NOTIFICATION_TLS_KEY_FILE?: string;
  },
  profile: ProviderProfile,
): NotificationEndpointConfig {
  const problems: string[] = [];
  if (!profile.tokenDeliveryModes.includes('ping')) {
    problems.push(
      `CIBA_TOKEN_DELIVERY_MODE: the ${profile.name} provider profile offers only ${profile.tokenDeliveryModes.join(', ')} (use poll)`,
    );
  }
  const read = (variable: 'CIBA_NOTIFICATION_TLS_CERT_FILE' | 'CIBA_NOTIFICATION_TLS_KEY_FILE'): string => {
    const file = env[variable];
    if (!file) {
      problems.push(`${variable}: required for CIBA_TOKEN_DELIVERY_MODE=ping (the notification endpoint is https)`);
      return '';
    }
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      problems.push(`${variable}: cannot read ${file}: ${(error as Error).message}`);
      return '';
    }
  };
  const tls = { cert: read('CIBA_NOTIFICATION_TLS_CERT_FILE'), key: read('CIBA_NOTIFICATION_TLS_KEY_FILE') };
  if (problems.length) throw new ConfigError(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  return { host: env.CIBA_NOTIFICATION_HOST, port: env.CIBA_NOTIFICATION_PORT, tls };
}

function withTrailingSlash(url: URL): URL {
  return new URL(url.href.endsWith('/') ? url.href : `${url.href}/`);
}

/** Unset and empty variables both mean "not set". */
function unsetIfEmpty<T extends z.ZodType>(schema: T) {
  return z.preprocess((v) => (v === '' ? undefined : v), schema.optional());
}

interface ClientAuthEnv {
  CIBA_CLIENT_AUTH_METHOD: ClientAuthentication['method'];
  CIBA_CLIENT_SECRET?: string;
  CIBA_CLIENT_PRIVATE_KEY?: string;
  CIBA_CLIENT_PRIVATE_KEY_FILE?: string;
  CIBA_CLIENT_KEY_ID?: string;
  CIBA_CLIENT_SIGNING_ALG?: ClientSigningAlg;
}

/** The client authentication the variables describe; each problem is an issue naming its variable. */
function withClientAuthentication<E extends ClientAuthEnv>(env: E, ctx: Pick<z.core.$RefinementCtx, 'addIssue'>) {
  const issue = (variable: keyof ClientAuthEnv, message: string) => {
    ctx.addIssue({ code: 'custom', path: [variable], message });
    return undefined;
  };
  const method = env.CIBA_CLIENT_AUTH_METHOD;
  let clientAuth: ClientAuthentication | undefined;
  if (method !== 'private_key_jwt') {
    clientAuth = env.CIBA_CLIENT_SECRET
      ? { method, clientSecret: env.CIBA_CLIENT_SECRET }
      : issue(
          'CIBA_CLIENT_SECRET',
          `required for ${method} (or set CIBA_CLIENT_AUTH_METHOD=private_key_jwt and a private key)`,
        );
  } else if (!env.CIBA_CLIENT_PRIVATE_KEY === !env.CIBA_CLIENT_PRIVATE_KEY_FILE) {
    issue(
      'CIBA_CLIENT_PRIVATE_KEY',
      'private_key_jwt needs exactly one of CIBA_CLIENT_PRIVATE_KEY (PEM or JWK) or CIBA_CLIENT_PRIVATE_KEY_FILE',
    );
  } else {
    clientAuth = privateKeyJwt(env, issue);
  }
  return { ...env, clientAuth: clientAuth as ClientAuthentication }; // defined whenever no issue was added
}

function privateKeyJwt(
  env: ClientAuthEnv,
  issue: (variable: keyof ClientAuthEnv, message: string) => undefined,
): ClientAuthentication | undefined {
  const variable = env.CIBA_CLIENT_PRIVATE_KEY_FILE ? 'CIBA_CLIENT_PRIVATE_KEY_FILE' : 'CIBA_CLIENT_PRIVATE_KEY';
  let text = env.CIBA_CLIENT_PRIVATE_KEY ?? '';
  if (env.CIBA_CLIENT_PRIVATE_KEY_FILE) {
    try {
      text = readFileSync(env.CIBA_CLIENT_PRIVATE_KEY_FILE, 'utf8');
    } catch (error) {
      return issue(variable, `cannot read ${env.CIBA_CLIENT_PRIVATE_KEY_FILE}: ${(error as Error).message}`);
    }
  }
  let parsed;
  try {
    parsed = parsePrivateKey(text);
  } catch (error) {
    return issue(variable, (error as Error).message);
  }
  const unusable = keyProblem(parsed.key);
  if (unusable) return issue(variable, unusable);
  const signingAlg = env.CIBA_CLIENT_SIGNING_ALG ?? parsed.alg ?? defaultSigningAlg(parsed.key)!;
  const wrongAlg = signingAlgProblem(signingAlg, parsed.key);
  if (wrongAlg) return issue(env.CIBA_CLIENT_SIGNING_ALG ? 'CIBA_CLIENT_SIGNING_ALG' : variable, wrongAlg);
  return {
    method: 'private_key_jwt',
    privateKey: parsed.key,
    keyId: env.CIBA_CLIENT_KEY_ID ?? parsed.kid ?? jwkThumbprint(parsed.key),
    signingAlg: signingAlg as ClientSigningAlg,
  };
}

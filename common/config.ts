/**
 * Configuration shared by everything that talks to Temporal (worker, client library, CLI): read from the
 * environment through one zod schema, in one place. Temporal's own connection settings (TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE, temporal.toml) are read by
 * @temporalio/envconfig, exactly as the `temporal` CLI reads them.
 */
import { readFileSync } from 'node:fs';
import { loadClientConnectConfig, type ClientConnectConfig } from '@temporalio/envconfig';
import type { DataConverter } from '@temporalio/common';
import { z } from 'zod';
import { ClientCredentialsTokenSource } from './client-credentials-token';
import { EncryptionCodec, type PayloadKey } from './payload-codec';
import { PROVIDER_PROFILE_NAMES, type ProviderProfileName } from './provider-profile';

export const DEFAULT_TASK_QUEUE = 'ciba-approvals';
/** The Temporal UI of the local stack (`npm start`, `temporal server start-dev`). */
export const DEFAULT_TEMPORAL_UI_URL = 'http://localhost:8233';

const PayloadKeySchema = z
  .string()
  .trim()
  .refine(
    (v) => Buffer.from(v, 'base64').length === 32,
    'must be 32 random bytes, base64-encoded (openssl rand -base64 32)',
  );

/** An empty or blank variable (`CIBA_PAYLOAD_KEY_FILE=` in an .env file or a compose file) counts as unset. */
export const blankAsUnset = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? undefined : value);

const LEGACY_KEY_ID = /^[\w.-]{1,64}$/;

export const TemporalConfigSchema = z
  .object({
    CIBA_TASK_QUEUE: z.string().min(1).default(DEFAULT_TASK_QUEUE),
    /**
     * The sample agent's task queue (workflows/payment-agent.ts): the standalone worker runs it on a Worker of its own,
     * with its own workflow bundle, so that the approval workflows' bundle holds nothing else. Default: CIBA_TASK_QUEUE
     * followed by `-agents`; `off`: no sample agent.
     */
    CIBA_AGENT_TASK_QUEUE: z.preprocess(blankAsUnset, z.string().min(1).optional()),
    /** The Temporal UI's base URL, for links to an approval's run (`<base>/namespaces/<ns>/workflows/<id>`). */
    TEMPORAL_UI_URL: z.preprocess(
      blankAsUnset,
      z
        .url({ protocol: /^https?$/, error: 'must be the Temporal UI URL, e.g. http://localhost:8233' })
        .default(DEFAULT_TEMPORAL_UI_URL),
    ),
    /**
     * true: approvals this client starts carry their summary without the user ("Pay 50.00 USD to ExampleCorp") in the
     * CibaSummary search attribute, a column the Temporal UI's list can show. Plaintext on the server: off by default.
     */
    CIBA_SUMMARY_SEARCH_ATTRIBUTE: z.preprocess(blankAsUnset, z.stringbool().default(false)),
    /**
     * The provider's rules (common/provider-profile.ts): generic, auth0 or keycloak. The worker checks every request
     * against it (default: from the issuer); a client that sets it refuses a request before starting anything.
     */
    CIBA_PROVIDER_PROFILE: z.preprocess(blankAsUnset, z.enum(PROVIDER_PROFILE_NAMES).optional()),
    /**
     * OpenTelemetry: when either OTLP endpoint is set, clients pass the caller's active trace context to the approvals
     * they start (Temporal headers), so the caller's trace continues into the approval. The worker validates them.
     */
    OTEL_EXPORTER_OTLP_ENDPOINT: z.preprocess(blankAsUnset, z.string().optional()),
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.preprocess(blankAsUnset, z.string().optional()),
    /**
     * A Temporal server with a JWT authorizer (docs/cluster-auth.md): every connection presents a client-credentials
     * access token from this token endpoint, and a new one before it expires (common/client-credentials-token.ts).
     * For a static token, TEMPORAL_API_KEY instead.
     */
    CIBA_TEMPORAL_TOKEN_URL: z.preprocess(blankAsUnset, z.url({ protocol: /^https?$/ }).optional()),
    CIBA_TEMPORAL_CLIENT_ID: z.preprocess(blankAsUnset, z.string().optional()),
    /** The client's secret... */
    CIBA_TEMPORAL_CLIENT_SECRET: z.preprocess(blankAsUnset, z.string().optional()),
    /** ...or a file that holds it. */
    CIBA_TEMPORAL_CLIENT_SECRET_FILE: z.preprocess(blankAsUnset, z.string().optional()),
    /** Sent as `audience` (Auth0: the API's identifier); the local provider needs none. */
    CIBA_TEMPORAL_TOKEN_AUDIENCE: z.preprocess(blankAsUnset, z.string().optional()),
    CIBA_TEMPORAL_TOKEN_SCOPE: z.preprocess(blankAsUnset, z.string().optional()),
    /** The current payload encryption key (base64 of 32 bytes)... */
    CIBA_PAYLOAD_KEY: z.preprocess(blankAsUnset, PayloadKeySchema.optional()),
    /** ...or a file that holds it (e.g. a mounted secret). */
    CIBA_PAYLOAD_KEY_FILE: z.preprocess(blankAsUnset, z.string().optional()),
    // CIBA_PAYLOAD_KEY_ID is gone: key ids are derived from the keys. It is still accepted, and ignored (a warning
    // says so): payloads written under the id it named still decrypt (every key is tried for a legacy id).
    /**
     * Keys that only decrypt, for rotation, comma-separated: `base64` (the id is derived from the key), or the older
     * `id:base64` form (the id is then also accepted as a legacy id, e.g. `k1`).
     */
    CIBA_PAYLOAD_PREVIOUS_KEYS: z
      .string()
      .optional()
      .transform((v, ctx) =>
        (v ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
          .map((entry, index): PayloadKey => {
            const colon = entry.indexOf(':');
            const id = colon < 0 ? undefined : entry.slice(0, colon).trim();
            const key = (colon < 0 ? entry : entry.slice(colon + 1)).trim();
            if (id !== undefined && !LEGACY_KEY_ID.test(id)) {
              ctx.addIssue({
                code: 'custom',
                message: `entry ${index + 1}: the id before ":" must be 1 to 64 letters, digits, _ . -`,
              });
            } else if (!PayloadKeySchema.safeParse(key).success) {
              // Never echo the entry: it is a key.
              ctx.addIssue({
                code: 'custom',
                message: `entry ${index + 1}${id ? ` ("${id}")` : ''} must be base64 of 32 bytes, or id:base64`,
              });
            }
            return { id, key: Buffer.from(key, 'base64') };
          }),
      ),
  })
  .superRefine((env, ctx) => {
    if (env.CIBA_TEMPORAL_TOKEN_URL) {
      if (!env.CIBA_TEMPORAL_CLIENT_ID) {
        ctx.addIssue({
          code: 'custom',
          path: ['CIBA_TEMPORAL_CLIENT_ID'],
          message: 'required with CIBA_TEMPORAL_TOKEN_URL',
        });
      }
      if (!env.CIBA_TEMPORAL_CLIENT_SECRET === !env.CIBA_TEMPORAL_CLIENT_SECRET_FILE) {
        ctx.addIssue({
          code: 'custom',
          path: ['CIBA_TEMPORAL_CLIENT_SECRET'],
          message:
            'with CIBA_TEMPORAL_TOKEN_URL, set exactly one of CIBA_TEMPORAL_CLIENT_SECRET or CIBA_TEMPORAL_CLIENT_SECRET_FILE',
        });
      }
    }
    if (!env.CIBA_PAYLOAD_KEY === !env.CIBA_PAYLOAD_KEY_FILE) {
      ctx.addIssue({
        code: 'custom',
        path: ['CIBA_PAYLOAD_KEY'],
        message:
          'set exactly one of CIBA_PAYLOAD_KEY (base64 of 32 bytes) or CIBA_PAYLOAD_KEY_FILE (a file holding it)',
      });
    }
  });

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses `env` with `schema`; the error names every offending variable. */
export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.output<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(environment)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}

export interface TemporalSettings {
  /**
   * Usable by both the worker's NativeConnection and the client's Connection. Connect through `connectWithToken`
   * (common/client-credentials-token.ts) with `credentials`, so that a configured token is presented and refreshed.
   */
  connection: ClientConnectConfig['connectionOptions'];
  /** CIBA_TEMPORAL_TOKEN_URL and its client: the token source every connection presents. */
  credentials?: ClientCredentialsTokenSource;
  namespace: string;
  taskQueue: string;
  /** CIBA_AGENT_TASK_QUEUE: the sample agent's task queue; undefined when it is `off`. */
  agentTaskQueue?: string;
  /** The clients' data converter: encrypts; decrypts, or throws PayloadKeyMismatchError naming the key ids. */
  dataConverter: DataConverter;
  /** The payload codec (client behaviour); `workerDataConverter()` gives the worker's. */
  payloadCodec: EncryptionCodec;
  /** CIBA_PROVIDER_PROFILE, when set. */
  providerProfile?: ProviderProfileName;
  /** TEMPORAL_UI_URL: the Temporal UI's base URL, without a trailing slash. */
  uiUrl: string;
  /** CIBA_SUMMARY_SEARCH_ATTRIBUTE: set CibaSummary at start (plaintext on the server). */
  summarySearchAttribute: boolean;
  /** An OTLP endpoint is set: clients propagate the caller's trace context into the workflows they start. */
  tracing?: boolean;
}

/** The sample agent's default task queue beside the approvals' `taskQueue`. */
export function agentTaskQueueFor(taskQueue: string): string {
  return `${taskQueue}-agents`;
}

/**
 * The environment without its blank TEMPORAL_* variables: `TEMPORAL_ADDRESS=` (an .env or compose file's placeholder)
 * leaves the profile's address in place, as a blank CIBA_* variable counts as unset. (The `temporal` CLI would read it
 * as an empty address.)
 */
export function withoutBlankTemporalVariables(env: NodeJS.ProcessEnv): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (name.startsWith('TEMPORAL_') && value.trim() === '') continue;
    kept[name] = value;
  }
  return kept;
}

/** Temporal connection, task queue and the encrypting data converter, from the environment. */
export function temporalSettings(env: NodeJS.ProcessEnv = process.env): TemporalSettings {
  const config = parseEnv(TemporalConfigSchema, env);
  const connect = loadClientConnectConfig({ overrideEnvVars: withoutBlankTemporalVariables(env) });
  const codec = payloadCodec(config);
  if (blankAsUnset(env.CIBA_PAYLOAD_KEY_ID) !== undefined) warnKeyIdIgnored();
  const credentials = temporalCredentials(config);
  if (credentials && connect.connectionOptions.apiKey !== undefined) {
    throw new ConfigError(
      'set TEMPORAL_API_KEY (a static token) or CIBA_TEMPORAL_TOKEN_URL (client credentials), not both',
    );
  }
  return {
    connection: connect.connectionOptions,
    ...(credentials && { credentials }),
    namespace: connect.namespace ?? 'default',
    taskQueue: config.CIBA_TASK_QUEUE,
    ...(config.CIBA_AGENT_TASK_QUEUE !== 'off' && {
      agentTaskQueue: config.CIBA_AGENT_TASK_QUEUE ?? agentTaskQueueFor(config.CIBA_TASK_QUEUE),
    }),
    dataConverter: { payloadCodecs: [codec] },
    payloadCodec: codec,
    providerProfile: config.CIBA_PROVIDER_PROFILE,
    uiUrl: config.TEMPORAL_UI_URL.replace(/\/+$/, ''),
    summarySearchAttribute: config.CIBA_SUMMARY_SEARCH_ATTRIBUTE,
    tracing: Boolean(config.OTEL_EXPORTER_OTLP_ENDPOINT ?? config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT),
  };
}

/** The approval's run in the Temporal UI: `<ui>/namespaces/<namespace>/workflows/<workflow id>`. */
export function temporalUiLink(uiUrl: string, namespace: string, workflowId: string): string {
  return `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/**
 * The worker's data converter: the same keys, but a payload that is not encrypted, or that no key decrypts, reaches
 * workflow code only as a marker, which the worker's workflow interceptors (workflows/interceptors.ts) turn into a
 * PayloadNotEncrypted / PayloadKeyMismatch failure. Use it with those interceptors, never alone.
 */
export function workerDataConverter(settings: Pick<TemporalSettings, 'payloadCodec'>): DataConverter {
  return { payloadCodecs: [settings.payloadCodec.withUnreadable('mark', 'worker')] };
}

let keyIdWarned = false;
function warnKeyIdIgnored(): void {
  if (keyIdWarned) return;
  keyIdWarned = true;
  process.emitWarning(
    'CIBA_PAYLOAD_KEY_ID is ignored: payload key ids are now derived from the keys (remove it)',
    'ConfigWarning',
  );
}

/** One token source per token endpoint and client in this process, however often the settings are read. */
const tokenSources = new Map<string, ClientCredentialsTokenSource>();

function temporalCredentials(config: z.output<typeof TemporalConfigSchema>): ClientCredentialsTokenSource | undefined {
  const tokenUrl = config.CIBA_TEMPORAL_TOKEN_URL;
  const clientId = config.CIBA_TEMPORAL_CLIENT_ID;
  if (!tokenUrl || !clientId) return undefined;
  let clientSecret = config.CIBA_TEMPORAL_CLIENT_SECRET;
  if (config.CIBA_TEMPORAL_CLIENT_SECRET_FILE) {
    try {
      clientSecret = readFileSync(config.CIBA_TEMPORAL_CLIENT_SECRET_FILE, 'utf8').trim();
    } catch (error) {
      throw new ConfigError(
        `CIBA_TEMPORAL_CLIENT_SECRET_FILE: cannot read ${config.CIBA_TEMPORAL_CLIENT_SECRET_FILE}: ${(error as Error).message}`,
      );
    }
  }
  const options = {
    tokenUrl,
    clientId,
    clientSecret: clientSecret ?? '',
    audience: config.CIBA_TEMPORAL_TOKEN_AUDIENCE,
    scope: config.CIBA_TEMPORAL_TOKEN_SCOPE,
  };
  const key = JSON.stringify(options);
  let source = tokenSources.get(key);
  if (!source) {
    try {
      source = new ClientCredentialsTokenSource(options);
    } catch (error) {
      throw new ConfigError(`CIBA_TEMPORAL_TOKEN_URL: ${(error as Error).message}`);
    }
    tokenSources.set(key, source);
  }
  return source;
}

function payloadCodec(config: z.output<typeof TemporalConfigSchema>): EncryptionCodec {
  let encoded = config.CIBA_PAYLOAD_KEY;
  if (config.CIBA_PAYLOAD_KEY_FILE) {
    try {
      encoded = readFileSync(config.CIBA_PAYLOAD_KEY_FILE, 'utf8').trim();
    } catch (error) {
      throw new ConfigError(
        `CIBA_PAYLOAD_KEY_FILE: cannot read ${config.CIBA_PAYLOAD_KEY_FILE}: ${(error as Error).message}`,
      );
    }
    if (!PayloadKeySchema.safeParse(encoded).success) {
      throw new ConfigError(
        `CIBA_PAYLOAD_KEY_FILE: ${config.CIBA_PAYLOAD_KEY_FILE} must hold 32 random bytes, base64-encoded`,
      );
    }
  }
  const current: PayloadKey = { key: Buffer.from(encoded ?? '', 'base64') };
  return new EncryptionCodec(current, config.CIBA_PAYLOAD_PREVIOUS_KEYS);
}

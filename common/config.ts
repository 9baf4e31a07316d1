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
import { EncryptionCodec, type PayloadKey } from './payload-codec';

export const DEFAULT_TASK_QUEUE = 'ciba-approvals';

const PayloadKeySchema = z
  .string()
  .trim()
  .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 random bytes, base64-encoded (openssl rand -base64 32)');

export const TemporalConfigSchema = z
  .object({
    CIBA_TASK_QUEUE: z.string().min(1).default(DEFAULT_TASK_QUEUE),
    /** The current payload encryption key (base64 of 32 bytes)... */
    CIBA_PAYLOAD_KEY: PayloadKeySchema.optional(),
    /** ...or a file that holds it (e.g. a mounted secret). */
    CIBA_PAYLOAD_KEY_FILE: z.string().min(1).optional(),
    CIBA_PAYLOAD_KEY_ID: z.string().regex(/^[\w.-]{1,64}$/).default('k1'),
    /** Keys that only decrypt, for rotation: `id:base64,id:base64`. */
    CIBA_PAYLOAD_PREVIOUS_KEYS: z
      .string()
      .optional()
      .transform((v, ctx) =>
        (v ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
          .map((entry) => {
            const [id, key] = entry.split(':', 2);
            if (!id || !key || !PayloadKeySchema.safeParse(key).success) {
              ctx.addIssue({ code: 'custom', message: `entry "${id ?? ''}" must be id:base64-of-32-bytes` });
            }
            return { id: id ?? '', key: Buffer.from(key ?? '', 'base64') };
          }),
      ),
  })
  .superRefine((env, ctx) => {
    if (!env.CIBA_PAYLOAD_KEY === !env.CIBA_PAYLOAD_KEY_FILE) {
      ctx.addIssue({
        code: 'custom',
        path: ['CIBA_PAYLOAD_KEY'],
        message: 'set exactly one of CIBA_PAYLOAD_KEY (base64 of 32 bytes) or CIBA_PAYLOAD_KEY_FILE (a file holding it)',
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
  /** Usable by both the worker's NativeConnection and the client's Connection. */
  connection: ClientConnectConfig['connectionOptions'];
  namespace: string;
  taskQueue: string;
  dataConverter: DataConverter;
}

/** Temporal connection, task queue and the encrypting data converter, from the environment. */
export function temporalSettings(env: NodeJS.ProcessEnv = process.env): TemporalSettings {
  const config = parseEnv(TemporalConfigSchema, env);
  const connect = loadClientConnectConfig({ overrideEnvVars: env as Record<string, string> });
  return {
    connection: connect.connectionOptions,
    namespace: connect.namespace ?? 'default',
    taskQueue: config.CIBA_TASK_QUEUE,
    dataConverter: { payloadCodecs: [payloadCodec(config)] },
  };
}

function payloadCodec(config: z.output<typeof TemporalConfigSchema>): EncryptionCodec {
  let encoded = config.CIBA_PAYLOAD_KEY;
  if (config.CIBA_PAYLOAD_KEY_FILE) {
    try {
      encoded = readFileSync(config.CIBA_PAYLOAD_KEY_FILE, 'utf8').trim();
    } catch (error) {
      throw new ConfigError(`CIBA_PAYLOAD_KEY_FILE: cannot read ${config.CIBA_PAYLOAD_KEY_FILE}: ${(error as Error).message}`);
    }
    if (!PayloadKeySchema.safeParse(encoded).success) {
      throw new ConfigError(`CIBA_PAYLOAD_KEY_FILE: ${config.CIBA_PAYLOAD_KEY_FILE} must hold 32 random bytes, base64-encoded`);
    }
  }
  const current: PayloadKey = { id: config.CIBA_PAYLOAD_KEY_ID, key: Buffer.from(encoded ?? '', 'base64') };
  return new EncryptionCodec(current, config.CIBA_PAYLOAD_PREVIOUS_KEYS);
}

/**
 * The HTTP API's settings, read from the environment through one zod schema, here and nowhere else. Temporal's
 * connection and the payload key come from the same variables as the worker's and the clients' (common/config.ts).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { blankAsUnset, parseEnv } from '../common/config';
import { DEFAULT_STARTS_PER_MINUTE, MAX_WAIT_SECONDS } from './app';
import { ApiKeys, parseApiKeyEntries } from './keys';

export const DEFAULT_API_HOST = '127.0.0.1';
export const DEFAULT_API_PORT = 8235;

/** A base64 secret of at least 32 bytes. */
const IdKeySchema = z
  .string()
  .trim()
  .transform((value, ctx) => {
    const bytes = /^[A-Za-z0-9+/_-]+={0,2}$/.test(value) ? Buffer.from(value, 'base64') : Buffer.alloc(0);
    if (bytes.length < 32) {
      ctx.addIssue({ code: 'custom', message: 'must be at least 32 random bytes, base64 (openssl rand -base64 32)' });
      return z.NEVER;
    }
    return bytes;
  });

export const ApiConfigSchema = z
  .object({
    /** Address to listen on (default loopback). */
    CIBA_API_HOST: z.preprocess(blankAsUnset, z.string().min(1).default(DEFAULT_API_HOST)),
    /** Port to listen on; 0 picks a free one (the API prints its URL). */
    CIBA_API_PORT: z.preprocess(blankAsUnset, z.coerce.number().int().min(0).max(65_535).default(DEFAULT_API_PORT)),
    /** API keys, `id:secret` (or `id:sha256:<hex of the secret's SHA-256>`), separated by commas... */
    CIBA_API_KEYS: z.preprocess(blankAsUnset, z.string().optional()),
    /** ...or a file holding them (e.g. a mounted secret; the local stack's is .data/api-keys). */
    CIBA_API_KEYS_FILE: z.preprocess(blankAsUnset, z.string().optional()),
    /**
     * The API's own secret that tags approval ids with their owner (api/approval-ids.ts), base64 of 32 or more
     * random bytes; or a file holding it. Optional: without it each API key's tags derive from its secret, and a new
     * secret for a key makes the key's earlier approvals unreachable through the API.
     */
    CIBA_API_ID_KEY: z.preprocess(blankAsUnset, IdKeySchema.optional()),
    CIBA_API_ID_KEY_FILE: z.preprocess(blankAsUnset, z.string().optional()),
    /**
     * Approvals each API key may start a minute (default 60), counted in this process: the limit is per API
     * instance. Beyond it POST /approvals answers 429 with Retry-After.
     */
    CIBA_API_STARTS_PER_MINUTE: z.preprocess(
      blankAsUnset,
      z.coerce.number().int().min(1).max(1_000_000).default(DEFAULT_STARTS_PER_MINUTE),
    ),
    /**
     * GET /approvals/{id}/result: the longest wait a caller may ask for (default 60 s; keep it under your proxies'
     * idle timeout). The default wait is 30 s, or this when shorter.
     */
    CIBA_API_MAX_WAIT_SECONDS: z.preprocess(
      blankAsUnset,
      z.coerce.number().int().min(1).max(600).default(MAX_WAIT_SECONDS),
    ),
  })
  .transform((env, ctx) => {
    if (!env.CIBA_API_KEYS === !env.CIBA_API_KEYS_FILE) {
      ctx.addIssue({
        code: 'custom',
        path: ['CIBA_API_KEYS'],
        message:
          'set exactly one of CIBA_API_KEYS (id:secret,...) or CIBA_API_KEYS_FILE (a file holding them; the local ' +
          'stack: CIBA_API_KEYS_FILE=.data/api-keys, made by npm start)',
      });
      return z.NEVER;
    }
    let text = env.CIBA_API_KEYS;
    if (env.CIBA_API_KEYS_FILE) {
      try {
        text = readFileSync(env.CIBA_API_KEYS_FILE, 'utf8');
      } catch (error) {
        ctx.addIssue({
          code: 'custom',
          path: ['CIBA_API_KEYS_FILE'],
          message: `cannot read ${env.CIBA_API_KEYS_FILE}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
        });
        return z.NEVER;
      }
    }
    const { entries, problems } = parseApiKeyEntries(text ?? '');
    const variable = env.CIBA_API_KEYS_FILE ? 'CIBA_API_KEYS_FILE' : 'CIBA_API_KEYS';
    for (const message of problems) ctx.addIssue({ code: 'custom', path: [variable], message });
    if (!problems.length && !entries.length) {
      ctx.addIssue({ code: 'custom', path: [variable], message: 'holds no API key (id:secret)' });
    }
    let approvalIdKey = env.CIBA_API_ID_KEY;
    if (env.CIBA_API_ID_KEY && env.CIBA_API_ID_KEY_FILE) {
      ctx.addIssue({
        code: 'custom',
        path: ['CIBA_API_ID_KEY'],
        message: 'set at most one of CIBA_API_ID_KEY or CIBA_API_ID_KEY_FILE',
      });
      return z.NEVER;
    }
    if (env.CIBA_API_ID_KEY_FILE) {
      let fileText: string;
      try {
        fileText = readFileSync(env.CIBA_API_ID_KEY_FILE, 'utf8');
      } catch (error) {
        ctx.addIssue({
          code: 'custom',
          path: ['CIBA_API_ID_KEY_FILE'],
          message: `cannot read ${env.CIBA_API_ID_KEY_FILE}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
        });
        return z.NEVER;
      }
      const parsed = IdKeySchema.safeParse(fileText);
      if (!parsed.success) {
        ctx.addIssue({ code: 'custom', path: ['CIBA_API_ID_KEY_FILE'], message: parsed.error.issues[0]!.message });
        return z.NEVER;
      }
      approvalIdKey = parsed.data;
    }
    return {
      host: env.CIBA_API_HOST,
      port: env.CIBA_API_PORT,
      keys: new ApiKeys(entries),
      approvalIdKey,
      startsPerMinute: env.CIBA_API_STARTS_PER_MINUTE,
      maxWaitSeconds: env.CIBA_API_MAX_WAIT_SECONDS,
    };
  });

export type ApiConfig = z.output<typeof ApiConfigSchema>;

/** The API's settings from `env`; throws a ConfigError naming every offending variable (never a secret). */
export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  return parseEnv(ApiConfigSchema, env);
}

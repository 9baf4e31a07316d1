/**
 * The HTTP API's settings, read from the environment through one zod schema, here and nowhere else. Temporal's
 * connection and the payload key come from the same variables as the worker's and the clients' (common/config.ts).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { blankAsUnset, parseEnv } from '../common/config';
import { ApiKeys, parseApiKeyEntries } from './keys';

export const DEFAULT_API_HOST = '127.0.0.1';
export const DEFAULT_API_PORT = 8235;

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
    return { host: env.CIBA_API_HOST, port: env.CIBA_API_PORT, keys: new ApiKeys(entries) };
  });

export type ApiConfig = z.output<typeof ApiConfigSchema>;

/** The API's settings from `env`; throws a ConfigError naming every offending variable (never a secret). */
export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  return parseEnv(ApiConfigSchema, env);
}

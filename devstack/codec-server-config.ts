/**
 * The standalone codec server's configuration: one zod schema over the environment, read once at start. The
 * payload key comes from the same variables as the worker's (CIBA_PAYLOAD_KEY, ..., read by common/config.ts).
 */
import { z } from 'zod';
import { blankAsUnset, parseEnv } from '../common/config';
import { DEFAULT_MAX_BODY_BYTES, isLoopbackHost, isWildcardHost, type CodecServerOptions } from './codec-server';

const list = (v: string | undefined) =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const OriginSchema = z.string().transform((v, ctx) => {
  const url = URL.canParse(v) ? new URL(v) : undefined;
  if (!url || !/^https?:$/.test(url.protocol) || url.origin !== v.replace(/\/$/, '')) {
    ctx.addIssue({ code: 'custom', message: `"${v}" must be an origin: scheme://host[:port], no path` });
  }
  return url?.origin ?? v;
});

/** CODEC_SERVER_ENCODE: `true` turns POST /encode on; unset, blank or `false` leaves it off. */
const EncodeSchema = z.preprocess(blankAsUnset, z.stringbool().default(false));

const CodecServerEnvSchema = z
  .object({
    /** `local`: loopback, no credentials (the local stack). `jwt`: the UI user's access token is required. */
    CODEC_SERVER_AUTH: z.enum(['local', 'jwt']).default('local'),
    CODEC_SERVER_HOST: z.string().min(1).default('127.0.0.1'),
    CODEC_SERVER_PORT: z.coerce.number().int().min(0).max(65535).default(8234),
    /** The Temporal UI's origin(s) as the browser sends them, comma-separated: `https://temporal.example.com`. */
    CODEC_SERVER_UI_ORIGIN: z
      .string({ error: 'required: the Temporal UI origin, e.g. http://127.0.0.1:8233' })
      .transform(list)
      .pipe(z.array(OriginSchema).min(1)),
    /** Host headers clients send (`name[:port]`, comma-separated), e.g. behind a proxy. */
    CODEC_SERVER_ALLOWED_HOSTS: z.string().optional().transform(list),
    CODEC_SERVER_MAX_BODY_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(DEFAULT_MAX_BODY_BYTES),
    /**
     * true: answer POST /encode, so the UI can send signals and start workflows with inputs it encrypts. Off by
     * default: whoever may call /encode can make an input the worker accepts (and so make a user's device ask).
     */
    CODEC_SERVER_ENCODE: EncodeSchema,
    CODEC_SERVER_JWT_ISSUER: z.preprocess(blankAsUnset, z.string().min(1).optional()),
    CODEC_SERVER_JWKS_URL: z.preprocess(blankAsUnset, z.url({ protocol: /^https?$/ }).optional()),
    /** Required in jwt mode: the `aud` of the access tokens the Temporal UI sends (e.g. Auth0's API identifier). */
    CODEC_SERVER_JWT_AUDIENCE: z.preprocess(blankAsUnset, z.string().min(1).optional()),
    /** `name=value`: for issuers whose access tokens are not typed at+jwt, a claim only their access tokens carry. */
    CODEC_SERVER_JWT_ACCESS_TOKEN_CLAIM: z.preprocess(
      blankAsUnset,
      z
        .string()
        .regex(/^[^=\s]+=\S+$/, 'must be name=value, e.g. token_use=access')
        .transform((v) => ({ name: v.slice(0, v.indexOf('=')), value: v.slice(v.indexOf('=') + 1) }))
        .optional(),
    ),
    /** Scopes every access token must grant, space- or comma-separated. */
    CODEC_SERVER_JWT_REQUIRED_SCOPES: z
      .string()
      .optional()
      .transform((v) => (v ?? '').split(/[\s,]+/).filter(Boolean)),
  })
  .superRefine(
    (env, ctx) => {
      // Runs even when a field failed (so every offending variable is named): a failed field may hold its raw value.
      const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
      const host = String(env.CODEC_SERVER_HOST);
      if (env.CODEC_SERVER_AUTH === 'local' && !isLoopbackHost(host)) {
        issue(
          'CODEC_SERVER_HOST',
          'local mode checks no credentials: listen on loopback (127.0.0.1), or set CODEC_SERVER_AUTH=jwt',
        );
      }
      if (
        isWildcardHost(host) &&
        !(Array.isArray(env.CODEC_SERVER_ALLOWED_HOSTS) && env.CODEC_SERVER_ALLOWED_HOSTS.length)
      ) {
        issue('CODEC_SERVER_ALLOWED_HOSTS', `required when listening on ${host}: the Host names clients use`);
      }
      if (env.CODEC_SERVER_AUTH !== 'jwt') return;
      if (!env.CODEC_SERVER_JWT_ISSUER)
        issue('CODEC_SERVER_JWT_ISSUER', 'required in jwt mode: the access tokens\' "iss"');
      const jwks = env.CODEC_SERVER_JWKS_URL;
      if (!jwks) issue('CODEC_SERVER_JWKS_URL', "required in jwt mode: the issuer's JWKS URL");
      else if (URL.canParse(jwks) && new URL(jwks).protocol === 'http:' && !isLoopbackHost(new URL(jwks).hostname)) {
        issue('CODEC_SERVER_JWKS_URL', 'must be https (plain http only on loopback)');
      }
      if (!env.CODEC_SERVER_JWT_AUDIENCE) {
        issue(
          'CODEC_SERVER_JWT_AUDIENCE',
          "required in jwt mode: the codec server's own audience, the aud of the access tokens the Temporal UI sends " +
            '(e.g. https://temporal.example.com/api); without it any token of the issuer would read every payload',
        );
      }
    },
    { when: () => true },
  );

/** Reads the codec server's settings from `env`; a ConfigError names every offending variable. */
export function loadCodecServerConfig(env: NodeJS.ProcessEnv = process.env): CodecServerOptions {
  const c = parseEnv(CodecServerEnvSchema, env);
  return {
    auth:
      c.CODEC_SERVER_AUTH === 'jwt'
        ? {
            mode: 'jwt',
            issuer: c.CODEC_SERVER_JWT_ISSUER!,
            jwksUrl: new URL(c.CODEC_SERVER_JWKS_URL!),
            audience: c.CODEC_SERVER_JWT_AUDIENCE!,
            ...(c.CODEC_SERVER_JWT_ACCESS_TOKEN_CLAIM && { accessTokenClaim: c.CODEC_SERVER_JWT_ACCESS_TOKEN_CLAIM }),
            ...(c.CODEC_SERVER_JWT_REQUIRED_SCOPES.length && { requiredScopes: c.CODEC_SERVER_JWT_REQUIRED_SCOPES }),
          }
        : { mode: 'local' },
    uiOrigins: c.CODEC_SERVER_UI_ORIGIN,
    host: c.CODEC_SERVER_HOST,
    port: c.CODEC_SERVER_PORT,
    allowedHosts: c.CODEC_SERVER_ALLOWED_HOSTS,
    maxBodyBytes: c.CODEC_SERVER_MAX_BODY_BYTES,
    encode: c.CODEC_SERVER_ENCODE,
  };
}

/** Whether `npm start`'s codec server answers POST /encode: CODEC_SERVER_ENCODE, read as the standalone server reads it. */
export function encodeEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return parseEnv(z.object({ CODEC_SERVER_ENCODE: EncodeSchema }), env).CODEC_SERVER_ENCODE;
}

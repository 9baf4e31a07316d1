/**
 * The MCP server's configuration, read once at start from the environment (the same `.env` as the worker and the
 * CLI: Temporal connection, payload key, CIBA_ISSUER, CIBA_PROVIDER_PROFILE).
 *
 * - `CIBA_MCP_HOST` / `CIBA_MCP_PORT`: where the HTTP transport listens (default 127.0.0.1:8236).
 * - `CIBA_MCP_PUBLIC_URL`: the MCP endpoint as clients reach it, the resource identifier tokens must name (RFC 8707,
 *   RFC 9728); default `http://<host>:<port>/mcp`.
 * - `CIBA_MCP_ISSUER`: the authorization server whose access tokens are accepted; default CIBA_ISSUER (the local
 *   provider in `npm start`). `CIBA_MCP_JWKS_URL`: its keys; default from its discovery document.
 * - `CIBA_MCP_AUDIENCE`: more accepted audiences, comma-separated (besides the public URL).
 * - `CIBA_MCP_SCOPE`: the scope a token must carry; default `mcp` (blank: none).
 * - `CIBA_MCP_ID_KEY`: the key approval ids are tagged under (base64 of 32+ bytes); default derived from the payload
 *   key (mcp/approval-ids.ts).
 * - `DEMO_PAYMENTS_API_URL`: pay_invoice's payments API; default the local provider's (`<issuer>/api/payments`).
 */
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { blankAsUnset, parseEnv, type TemporalSettings } from '../common/config';

const list = (v: string | undefined) =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const McpEnvSchema = z.object({
  CIBA_MCP_HOST: z.string().min(1).default('127.0.0.1'),
  CIBA_MCP_PORT: z.coerce.number().int().min(0).max(65535).default(8236),
  CIBA_MCP_PUBLIC_URL: z.preprocess(blankAsUnset, z.url().optional()),
  CIBA_ISSUER: z.preprocess(blankAsUnset, z.url().optional()),
  CIBA_MCP_ISSUER: z.preprocess(blankAsUnset, z.url().optional()),
  CIBA_MCP_JWKS_URL: z.preprocess(blankAsUnset, z.url().optional()),
  CIBA_MCP_AUDIENCE: z.string().optional().transform(list),
  CIBA_MCP_SCOPE: z.string().default('mcp'),
  CIBA_MCP_ID_KEY: z.preprocess(
    blankAsUnset,
    z
      .base64()
      .refine((v) => Buffer.from(v, 'base64').length >= 32, 'CIBA_MCP_ID_KEY must be at least 32 bytes, base64')
      .optional(),
  ),
  DEMO_PAYMENTS_API_URL: z.preprocess(blankAsUnset, z.url().optional()),
});

export interface McpConfig {
  host: string;
  port: number;
  publicUrl?: string;
  /** The authorization server (HTTP transport); absent: the HTTP transport cannot start. */
  issuer?: string;
  jwksUrl?: string;
  extraAudiences: string[];
  requiredScopes: string[];
  /** The id key's source: CIBA_MCP_ID_KEY, else the payload key. */
  idSecret: Buffer;
  paymentsApiUrl?: URL;
}

export function loadMcpConfig(settings: TemporalSettings, env: NodeJS.ProcessEnv = process.env): McpConfig {
  const e = parseEnv(McpEnvSchema, env);
  const issuer = e.CIBA_MCP_ISSUER ?? e.CIBA_ISSUER;
  const payments =
    e.DEMO_PAYMENTS_API_URL ?? (e.CIBA_ISSUER && new URL('api/payments', `${e.CIBA_ISSUER.replace(/\/+$/, '')}/`).href);
  return {
    host: e.CIBA_MCP_HOST,
    port: e.CIBA_MCP_PORT,
    ...(e.CIBA_MCP_PUBLIC_URL && { publicUrl: e.CIBA_MCP_PUBLIC_URL }),
    ...(issuer && { issuer: issuer.replace(/\/+$/, '') }),
    ...(e.CIBA_MCP_JWKS_URL && { jwksUrl: e.CIBA_MCP_JWKS_URL }),
    extraAudiences: e.CIBA_MCP_AUDIENCE,
    requiredScopes: e.CIBA_MCP_SCOPE.split(' ').filter(Boolean),
    idSecret: e.CIBA_MCP_ID_KEY ? Buffer.from(e.CIBA_MCP_ID_KEY, 'base64') : payloadDerivedSecret(settings),
    ...(payments && { paymentsApiUrl: new URL(payments) }),
  };
}

/** A secret derived from the current payload key (the key itself never leaves the codec). */
function payloadDerivedSecret(settings: TemporalSettings): Buffer {
  const [current] = settings.payloadCodec.derivedKeys((key) =>
    createHmac('sha256', key).update('ciba-temporal/mcp/id-key-source/v1', 'utf8').digest(),
  );
  return Buffer.from(current!);
}

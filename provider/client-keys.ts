/**
 * The public keys of the private_key_jwt client (`<clientId>-jwt`): IDP_CLIENT_JWKS or IDP_CLIENT_JWKS_FILE (a JWK
 * Set, JSON), or, when neither is set, a key pair generated at first start whose private key stays in the data
 * folder (client-jwt-key.pem, mode 0600) for the local stack's worker (CIBA_CLIENT_PRIVATE_KEY_FILE).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { JWK } from 'oidc-provider';
import { z } from 'zod';

import { writeFileAtomic } from './file-store';

export const CLIENT_KEY_FILE = 'client-jwt-key.pem';

export interface ClientJwks {
  keys: JWK[];
}

const PublicJwk = z.looseObject({ kty: z.string() }).superRefine((jwk, ctx) => {
  if ('d' in jwk) {
    ctx.addIssue({ code: 'custom', message: 'must hold public keys only (a JWK with "d" is a private key)' });
    return;
  }
  try {
    crypto.createPublicKey({ key: jwk as crypto.JsonWebKey, format: 'jwk' });
  } catch {
    ctx.addIssue({ code: 'custom', message: `not a usable public JWK (kty ${jwk.kty})` });
  }
});

/** A JWK Set as JSON text, with at least one public key. */
export const ClientJwksJson = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JWK Set as JSON: {"keys":[...]}' });
      return z.NEVER;
    }
  })
  .pipe(z.object({ keys: z.array(PublicJwk).min(1) }));

/** The JWK Set from IDP_CLIENT_JWKS (already parsed) or IDP_CLIENT_JWKS_FILE; undefined when neither is set. */
export function clientJwksFromEnv(jwks: ClientJwks | undefined, file: string | undefined): ClientJwks | undefined {
  if (jwks && file)
    throw new Error(
      'invalid provider environment: IDP_CLIENT_JWKS: set IDP_CLIENT_JWKS or IDP_CLIENT_JWKS_FILE, not both',
    );
  if (!file) return jwks;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(
      `invalid provider environment: IDP_CLIENT_JWKS_FILE: cannot read ${file}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const parsed = ClientJwksJson.safeParse(text);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => [file, ...i.path].join('.') + `: ${i.message}`);
    throw new Error(`invalid provider environment: IDP_CLIENT_JWKS_FILE: ${problems.join('; ')}`);
  }
  return parsed.data as ClientJwks;
}

/**
 * The local stack's client key: an RSA key pair (RS256, which Auth0 accepts too) generated at first start into
 * dataDir; the public half, with its RFC 7638 thumbprint as kid (the worker's default kid), is the client's JWKS.
 */
export function loadOrCreateClientKey(dataDir: string): { jwks: ClientJwks; keyFile: string } {
  const keyFile = path.join(dataDir, CLIENT_KEY_FILE);
  if (!fs.existsSync(keyFile)) {
    const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileAtomic(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  }
  const { kty, n, e } = crypto.createPublicKey(fs.readFileSync(keyFile, 'utf8')).export({ format: 'jwk' });
  const kid = crypto.createHash('sha256').update(JSON.stringify({ e, kty, n })).digest('base64url');
  return { jwks: { keys: [{ kty, n, e, kid, use: 'sig' }] }, keyFile };
}

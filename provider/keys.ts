import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { JSONWebKeySet } from 'jose';
import type { JWK } from 'oidc-provider';

import { writeFileAtomic } from './file-store';

export interface ProviderKeys {
  /** Private signing keys (RS256) for ID tokens and JWT access tokens. */
  jwks: { keys: JWK[] };
  /** Keys for oidc-provider's signed cookies. */
  cookieKeys: string[];
}

/**
 * Loads the provider's keys from dataDir/keys.json, generating them on first start. Keeping them across restarts
 * means tokens issued before a restart still verify after it.
 */
export function loadOrCreateKeys(dataDir: string): ProviderKeys {
  const file = path.join(dataDir, 'keys.json');
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8')) as ProviderKeys;

  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  const keys: ProviderKeys = {
    jwks: { keys: [{ ...jwk, kid: crypto.randomUUID(), alg: 'RS256', use: 'sig' }] },
    cookieKeys: [crypto.randomBytes(32).toString('base64url')],
  };
  writeFileAtomic(file, JSON.stringify(keys, null, 2));
  return keys;
}

/** The public half of the signing keys (what jwks_uri publishes). */
export function publicJwks(keys: ProviderKeys): JSONWebKeySet {
  return { keys: keys.jwks.keys.map(({ kty, n, e, kid, alg, use }) => ({ kty, n, e, kid, alg, use })) };
}

/**
 * The private_key_jwt key of the worker: a PEM (PKCS#8) or a private JWK (JSON), read with node:crypto, which is
 * synchronous, so a wrong key stops the worker at start. Messages never quote the key.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { CLIENT_SIGNING_ALGS, type ClientSigningAlg } from '../activities/ciba-protocol';

export interface ParsedPrivateKey {
  key: KeyObject;
  /** `kid` and `alg` of a JWK, when it has them. */
  kid?: string;
  alg?: string;
}

/** Parses a private key; throws an Error whose message describes the problem, never the key. */
export function parsePrivateKey(text: string): ParsedPrivateKey {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let jwk: Record<string, unknown>;
    try {
      jwk = JSON.parse(trimmed) as Record<string, unknown>;
    } catch {
      throw new Error('is not valid JSON (expected a private JWK)'); // JSON.parse's message would quote the key
    }
    if (Array.isArray(jwk.keys)) throw new Error('is a JWK Set: give the one private JWK');
    if (typeof jwk.d !== 'string') throw new Error('is a public JWK (no "d"): give the private key');
    const key = privateKey(() => createPrivateKey({ key: jwk as never, format: 'jwk' }), 'not a usable private JWK');
    return {
      key,
      kid: typeof jwk.kid === 'string' && jwk.kid ? jwk.kid : undefined,
      alg: typeof jwk.alg === 'string' ? jwk.alg : undefined,
    };
  }
  // A PEM squeezed into one line of an env file: "-----BEGIN PRIVATE KEY-----\nMII...".
  const pem = trimmed.startsWith('-----BEGIN') && !trimmed.includes('\n') ? trimmed.replace(/\\n/g, '\n') : trimmed;
  if (/^-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(pem))
    throw new Error('is an encrypted private key: give it unencrypted');
  if (/^-----BEGIN (RSA )?PUBLIC KEY-----|^-----BEGIN CERTIFICATE-----/.test(pem))
    throw new Error('is a public key: give the private key');
  if (!/^-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw new Error('must be a PEM private key (-----BEGIN PRIVATE KEY-----, PKCS#8) or a private JWK as JSON');
  }
  return { key: privateKey(() => createPrivateKey({ key: pem, format: 'pem' }), 'not a usable PEM private key') };
}

function privateKey(create: () => KeyObject, message: string): KeyObject {
  try {
    return create();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    // No `cause`: the parser's own message may quote the key, and a printed cause would show it.
    // eslint-disable-next-line preserve-caught-error
    throw new Error(`${message}${typeof code === 'string' ? ` (${code})` : ''}`);
  }
}

/** The usual algorithm for the key: RS256 for RSA, ES256/ES384/ES512 for P-256/P-384/P-521, EdDSA for Ed25519. */
export function defaultSigningAlg(key: KeyObject): ClientSigningAlg | undefined {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec') return EC_ALGS[key.asymmetricKeyDetails?.namedCurve ?? ''];
  return undefined;
}

const EC_ALGS: Record<string, ClientSigningAlg> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' };

/** Why the key cannot sign client assertions, or undefined when it can. */
export function keyProblem(key: KeyObject): string | undefined {
  if (defaultSigningAlg(key) === undefined) {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    return `unsupported key type ${key.asymmetricKeyType ?? '?'}${curve ? ` (${curve})` : ''}: use RSA, EC P-256/P-384/P-521 or Ed25519`;
  }
  if (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048)
    return 'an RSA key needs at least 2048 bits';
  return undefined;
}

/** Why `alg` does not suit `key` (a key without keyProblem), or undefined when it does. */
export function signingAlgProblem(alg: string, key: KeyObject): string | undefined {
  if (!(CLIENT_SIGNING_ALGS as readonly string[]).includes(alg))
    return `${alg} is not one of ${CLIENT_SIGNING_ALGS.join(', ')}`;
  const suits =
    key.asymmetricKeyType === 'rsa'
      ? /^(RS|PS)/.test(alg)
      : key.asymmetricKeyType === 'ed25519'
        ? /^(EdDSA|Ed25519)$/.test(alg)
        : alg === defaultSigningAlg(key);
  return suits ? undefined : `${alg} does not suit this ${key.asymmetricKeyType} key (${defaultSigningAlg(key)} does)`;
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of the key's public half. */
export function jwkThumbprint(key: KeyObject): string {
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  // The required members only, in lexicographic order.
  const members =
    jwk.kty === 'RSA'
      ? { e: jwk.e, kty: jwk.kty, n: jwk.n }
      : jwk.kty === 'EC'
        ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
        : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

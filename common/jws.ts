/** The asymmetric JWS algorithms (RFC 7518, RFC 8037, RFC 9864) this project signs or verifies with: never HMAC. */
export const ASYMMETRIC_JWS_ALGS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;
export type AsymmetricJwsAlg = (typeof ASYMMETRIC_JWS_ALGS)[number];

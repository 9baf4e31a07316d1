/**
 * Bearer access tokens, as a resource server checks them: a JWT access token (RFC 9068) signed by a key the issuer
 * publishes, for this audience, not expired, and an *access* token, never an ID token or another JWT of the same
 * issuer. Plus the `WWW-Authenticate: Bearer` challenge that answers a refused request (RFC 6750, RFC 9728).
 *
 * Node only (jose, remote key sets): for servers (the codec server, an MCP server), never for workflow code.
 *
 * @module
 */
import { errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { ASYMMETRIC_JWS_ALGS } from '../common/jws';

/**
 * The error codes a resource server answers a refused bearer token with.
 *
 * - `invalid_token`: expired, revoked, malformed, or invalid for another reason (HTTP 401).
 * - `insufficient_scope`: valid, but without the scope the request needs (HTTP 403).
 *
 * @see [RFC 6750 - Bearer Token Usage, Section 3.1](https://www.rfc-editor.org/rfc/rfc6750.html#section-3.1)
 */
export type BearerErrorCode = 'invalid_token' | 'insufficient_scope';

/**
 * A bearer token refused by {@link verifyAccessToken}: carries the RFC 6750 error code, a description for the
 * client's developer (never any part of the token), and the HTTP status to answer with.
 *
 * Any other error thrown by {@link verifyAccessToken} means the token could not be checked (the issuer's key set is
 * unreachable or broken): answer 5xx, not 401.
 *
 * @see [RFC 6750 - Bearer Token Usage, Section 3.1](https://www.rfc-editor.org/rfc/rfc6750.html#section-3.1)
 */
export class AccessTokenError extends Error {
  /** The RFC 6750 error code. */
  readonly code: BearerErrorCode;
  /** What is wrong with the token, in words (the challenge's `error_description`). */
  readonly description: string;
  /** 401 for `invalid_token`, 403 for `insufficient_scope`. */
  readonly status: 401 | 403;
  /** For `insufficient_scope`: the scopes the request needs, space-separated (the challenge's `scope`). */
  readonly scope?: string;

  constructor(code: BearerErrorCode, description: string, options?: { scope?: string; cause?: unknown }) {
    super(`${code}: ${description}`, { cause: options?.cause });
    this.name = 'AccessTokenError';
    this.code = code;
    this.description = description;
    this.status = code === 'insufficient_scope' ? 403 : 401;
    if (options?.scope !== undefined) this.scope = options.scope;
  }
}

/** How {@link verifyAccessToken} checks a token. */
export interface AccessTokenOptions {
  /** The issuer identifier the token's `iss` must equal exactly. */
  issuer: string;
  /** This resource server's identifier(s): the token's `aud` must name one. Required: without it, any token of the
   * issuer would do (another API's access token, an ID token). */
  audience: string | readonly string[];
  /** The issuer's keys, e.g. `createRemoteJWKSet(new URL(jwks_uri))` from jose. */
  jwks: JWTVerifyGetKey;
  /**
   * JWS `typ` header values that mark an access token; default `['at+jwt']` (RFC 9068). Compared case-insensitively,
   * with or without the `application/` prefix. `JWT` is refused here: see {@link accessTokenClaim}.
   */
  acceptedTypes?: readonly string[];
  /**
   * For issuers whose access tokens carry no `typ` or `typ: JWT` (as their ID tokens do): a claim that only their
   * access tokens carry, e.g. `{ name: 'token_use', value: 'access' }` (Amazon Cognito), `{ name: 'typ', value:
   * 'Bearer' }` (Keycloak), or `{ name: 'scope', value: 'codec' }`. The claim matches when it equals `value`, when it
   * is an array holding `value`, or, for `scope`, when its space-separated list holds `value`. Without it, such
   * tokens are refused.
   */
  accessTokenClaim?: { name: string; value: string };
  /** Scopes the token's `scope` claim must all list; missing ones give `insufficient_scope`. */
  requiredScopes?: readonly string[];
  /** Accepted signature algorithms; default every asymmetric one (common/jws.ts), never HMAC (the keys are public). */
  algorithms?: readonly string[];
  /** Seconds of clock skew allowed on `exp`, `nbf` and `iat`; default 30. */
  clockTolerance?: number;
  /** The time to check against; default now. */
  currentDate?: Date;
}

/** The claims of a verified access token; `iss`, `aud` and `exp` are always there. */
export interface AccessTokenClaims extends JWTPayload {
  iss: string;
  aud: string | string[];
  exp: number;
  /** Space-separated scopes (RFC 9068 Section 2.2.3), when the issuer includes them. */
  scope?: string;
  client_id?: string;
}

/** Claims only ID tokens carry (OpenID Connect Core 2 and 3.3.2.11, CIBA Core 7.4, FAPI 1 Part 2 5.1): never in an
 * access token. `auth_time` is not among them: RFC 9068 allows it in access tokens too. */
const ID_TOKEN_CLAIMS = [
  'nonce',
  'at_hash',
  'c_hash',
  's_hash',
  'urn:openid:params:jwt:claim:auth_req_id',
  'urn:openid:params:jwt:claim:rt_hash',
] as const;

/** What each jose error about the token says, as an `error_description` (never jose's text: it may quote claims). */
const TOKEN_FAULTS: Record<string, string> = {
  ERR_JWT_EXPIRED: 'the access token expired',
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: 'the access token signature is invalid',
  ERR_JWKS_NO_MATCHING_KEY: 'the access token is signed with a key the issuer does not publish',
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: 'the access token signature is invalid',
  ERR_JOSE_ALG_NOT_ALLOWED: 'the access token is signed with an algorithm that is not accepted',
  ERR_JOSE_NOT_SUPPORTED: 'the access token uses an unsupported algorithm or header',
  ERR_JWS_INVALID: 'the access token is not a signed JWT',
  ERR_JWT_INVALID: 'the access token is not a valid JWT',
};

const CLAIM_FAULTS: Record<string, string> = {
  iss: 'the access token is from another issuer',
  aud: 'the access token is for another audience',
  exp: 'the access token has no valid expiry (exp)',
  nbf: 'the access token is not valid yet',
  iat: 'the access token has an invalid issue time (iat)',
};

/** `at+jwt`, `application/at+jwt` and `AT+JWT` all name the same media type (RFC 7515 Section 4.1.9). */
function mediaType(typ: string): string {
  const lower = typ.toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}

function claimHolds(payload: JWTPayload, name: string, value: string): boolean {
  const claim = payload[name];
  if (claim === value) return true;
  if (Array.isArray(claim)) return claim.includes(value);
  return name === 'scope' && typeof claim === 'string' && claim.split(' ').includes(value);
}

/**
 * The token of an `Authorization: Bearer <token>` header value, or undefined when there is none (no header, another
 * scheme, or a value that is not a token): then answer 401 with a challenge but no error code.
 *
 * @param authorization The `Authorization` request header value.
 * @returns The bearer token, or undefined.
 * @see [RFC 6750 - Bearer Token Usage, Section 2.1](https://www.rfc-editor.org/rfc/rfc6750.html#section-2.1)
 */
export function bearerToken(authorization: string | undefined): string | undefined {
  return /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization ?? '')?.[1];
}

/**
 * Verifies a JWT access token the way a resource server must: the signature against the issuer's keys (asymmetric
 * algorithms only), `iss` exactly, `aud` naming this resource server, `exp` present and in the future (`nbf`, `iat`
 * when present), and that it *is* an access token. A token is an access token when its JWS `typ` is one of
 * `acceptedTypes` (`at+jwt`), or, for an issuer that does not type them, when it has no `typ` or `typ: JWT` and
 * carries the configured {@link AccessTokenOptions.accessTokenClaim}. Any other `typ`, and any token with ID-token
 * claims (`nonce`, `at_hash`, `c_hash`, `s_hash`, CIBA's `auth_req_id`), is refused. Then every required scope must
 * be granted.
 *
 * @param token The bearer token (see {@link bearerToken}).
 * @param options Issuer, audience and key set; what marks an access token; the scopes required.
 * @returns The token's claims.
 * @throws {AccessTokenError} `invalid_token` (401) or `insufficient_scope` (403) when the token is refused.
 * @throws {TypeError} When `options` lack an issuer or an audience, or accept `typ: JWT`.
 * @throws Other errors (from jose) when the token could not be checked: the key set is unreachable or invalid.
 * @see [RFC 9068 - JWT Profile for OAuth 2.0 Access Tokens, Section 4](https://www.rfc-editor.org/rfc/rfc9068.html#section-4)
 * @see [RFC 8725 - JWT Best Current Practices, Section 3.11](https://www.rfc-editor.org/rfc/rfc8725.html#section-3.11)
 * @see [RFC 6750 - Bearer Token Usage, Section 3.1](https://www.rfc-editor.org/rfc/rfc6750.html#section-3.1)
 */
export async function verifyAccessToken(token: string, options: AccessTokenOptions): Promise<AccessTokenClaims> {
  const audience = typeof options.audience === 'string' ? [options.audience] : [...options.audience];
  if (!options.issuer) throw new TypeError('verifyAccessToken: an issuer is required');
  if (!audience.length || audience.some((a) => !a)) throw new TypeError('verifyAccessToken: an audience is required');
  const acceptedTypes = (options.acceptedTypes ?? ['at+jwt']).map(mediaType);
  if (acceptedTypes.includes('jwt')) {
    throw new TypeError('verifyAccessToken: typ "JWT" also marks ID tokens; use accessTokenClaim instead');
  }

  let verified: Awaited<ReturnType<typeof jwtVerify>>;
  try {
    verified = await jwtVerify(token, options.jwks, {
      issuer: options.issuer,
      audience,
      requiredClaims: ['exp'],
      algorithms: [...(options.algorithms ?? ASYMMETRIC_JWS_ALGS)],
      clockTolerance: options.clockTolerance ?? 30,
      currentDate: options.currentDate,
    });
  } catch (error) {
    if (error instanceof errors.JWTClaimValidationFailed) {
      throw new AccessTokenError('invalid_token', CLAIM_FAULTS[error.claim] ?? `invalid ${error.claim} claim`, {
        cause: error,
      });
    }
    const description = error instanceof errors.JOSEError ? TOKEN_FAULTS[error.code] : undefined;
    if (description) throw new AccessTokenError('invalid_token', description, { cause: error });
    throw error; // not the token's fault: the key set could not be fetched or read
  }
  const { payload, protectedHeader } = verified;

  const typ = protectedHeader.typ === undefined ? undefined : mediaType(protectedHeader.typ);
  const typed = typ !== undefined && acceptedTypes.includes(typ);
  if (!typed) {
    const marker = options.accessTokenClaim;
    if (typ !== undefined && typ !== 'jwt') {
      throw new AccessTokenError('invalid_token', `a JWT of type ${typ} is not an access token`);
    }
    if (!marker || !claimHolds(payload, marker.name, marker.value)) {
      throw new AccessTokenError('invalid_token', 'not an access token (expected typ at+jwt)');
    }
  }
  const idTokenClaim = ID_TOKEN_CLAIMS.find((name) => name in payload);
  if (idTokenClaim) {
    throw new AccessTokenError(
      'invalid_token',
      `an ID token is not an access token (it has the ${idTokenClaim} claim)`,
    );
  }

  const missing = (options.requiredScopes ?? []).filter((s) => !claimHolds(payload, 'scope', s));
  if (missing.length) {
    throw new AccessTokenError('insufficient_scope', `the access token lacks scope ${missing.join(' ')}`, {
      scope: (options.requiredScopes ?? []).join(' '),
    });
  }
  return payload as AccessTokenClaims;
}

/** What {@link wwwAuthenticate} puts in the challenge. */
export interface BearerChallenge {
  /** The protection space, e.g. `temporal-codec`. */
  realm?: string;
  /** Why the token was refused; leave out when the request carried no token (RFC 6750 Section 3.1). */
  error?: AccessTokenError | { code: BearerErrorCode | 'invalid_request'; description?: string; scope?: string };
  /** The scopes needed (for `insufficient_scope`, defaults to the error's). */
  scope?: string;
  /** The URL of this resource's OAuth protected resource metadata (RFC 9728 Section 5.1). */
  resourceMetadata?: string | URL;
}

/** A quoted-string holding only what RFC 6750 allows in its parameters (NQSCHAR: no `"`, no `\`, no controls). */
function quoted(value: string): string {
  return `"${value.replace(/"/g, "'").replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '')}"`;
}

/**
 * The value of the `WWW-Authenticate` header that answers a request without a valid bearer token, e.g.
 * `Bearer realm="temporal-codec", error="invalid_token", error_description="the access token expired"`.
 *
 * @param challenge Realm, the error (none when the request carried no token), scope, resource metadata URL.
 * @returns The header value.
 * @see [RFC 6750 - Bearer Token Usage, Section 3](https://www.rfc-editor.org/rfc/rfc6750.html#section-3)
 * @see [RFC 9728 - OAuth 2.0 Protected Resource Metadata, Section 5.1](https://www.rfc-editor.org/rfc/rfc9728.html#section-5.1)
 */
export function wwwAuthenticate(challenge: BearerChallenge = {}): string {
  const params: Array<[string, string | undefined]> = [
    ['realm', challenge.realm],
    ['error', challenge.error?.code],
    ['error_description', challenge.error?.description],
    ['scope', challenge.scope ?? challenge.error?.scope],
    ['resource_metadata', challenge.resourceMetadata?.toString()],
  ];
  const present = params.filter((p): p is [string, string] => p[1] !== undefined);
  return present.length ? `Bearer ${present.map(([k, v]) => `${k}=${quoted(v)}`).join(', ')}` : 'Bearer';
}

import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import type { KoaContextWithOIDC } from 'oidc-provider';

import type { FileStore } from './file-store';

/** Where a revoked JWT access token's id is kept, until the token would have expired anyway. */
const REVOKED_PREFIX = 'revoked-jwt-access-token:';

/**
 * Revocation (RFC 7009) and introspection (RFC 7662) of this provider's JWT access tokens, as Keycloak has them.
 *
 * oidc-provider revokes and introspects only the tokens it stores (refresh tokens, opaque access tokens): for a JWT
 * access token (every token for this provider's APIs) it answers `unsupported_token_type`. Once oidc-provider has
 * authenticated the client and given that answer, this middleware takes over for a JWT this provider signed and issued
 * to that client: revocation keeps the token's `jti` until it expires; introspection answers from the token's claims
 * and that list. A token of another client is not revoked (invalid_request, as oidc-provider's own policy) and is
 * inactive to the caller.
 */
export function jwtAccessTokenRevocation(options: { issuer: string; jwks: JSONWebKeySet; store: FileStore }) {
  const keySet = createLocalJWKSet(options.jwks);

  /** The claims of a JWT access token this provider signed and that has not expired; undefined otherwise. */
  async function verified(token: string): Promise<JWTPayload | undefined> {
    try {
      const { payload } = await jwtVerify(token, keySet, {
        issuer: options.issuer,
        typ: 'at+jwt',
        algorithms: ['RS256'],
        requiredClaims: ['exp', 'jti', 'client_id'],
      });
      return payload;
    } catch {
      return undefined;
    }
  }

  return async (ctx: KoaContextWithOIDC, next: () => Promise<unknown>): Promise<void> => {
    await next();
    const route = ctx.oidc?.route;
    if (route !== 'revocation' && route !== 'introspection') return;
    const error = (ctx.body as { error?: unknown } | undefined)?.error;
    const client = ctx.oidc.client; // set only once the client authenticated
    const token = ctx.oidc.params?.token;
    if (ctx.status !== 400 || error !== 'unsupported_token_type' || !client || typeof token !== 'string') return;

    const claims = await verified(token);
    const own = claims !== undefined && claims.client_id === client.clientId;
    if (route === 'revocation') {
      if (claims && !own) {
        ctx.body = {
          error: 'invalid_request',
          error_description: 'client is not authorized to revoke the presented token',
        };
        return;
      }
      // RFC 7009 2.2: an invalid or expired token is answered 200 as well (there is nothing left to revoke).
      if (claims) options.store.set(`${REVOKED_PREFIX}${claims.jti}`, true, Math.max(1, claims.exp! - now()));
      ctx.status = 200;
      ctx.body = '';
      return;
    }
    ctx.status = 200;
    ctx.type = 'json';
    ctx.body =
      claims && own && !isRevokedJwtAccessToken(options.store, claims.jti!)
        ? {
            active: true,
            token_type: 'Bearer',
            iss: claims.iss,
            sub: claims.sub,
            aud: claims.aud,
            client_id: claims.client_id,
            scope: claims.scope,
            jti: claims.jti,
            iat: claims.iat,
            exp: claims.exp,
            ...(claims.authorization_details !== undefined
              ? { authorization_details: claims.authorization_details }
              : {}),
          }
        : { active: false };
  };
}

/** Whether the JWT access token with this `jti` was revoked (a resource server of this provider may ask). */
export function isRevokedJwtAccessToken(store: FileStore, jti: string): boolean {
  return store.get<boolean>(`${REVOKED_PREFIX}${jti}`) === true;
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * Authorization for the HTTP transport, per the MCP authorization spec: the MCP server is an OAuth 2.1 resource
 * server. It publishes protected resource metadata (RFC 9728) naming its authorization server, accepts only bearer
 * access tokens verified with auth/access-token.ts (the issuer's keys, `at+jwt`, this resource as audience, the
 * `mcp` scope), and answers any other request 401 with a `WWW-Authenticate` challenge naming the metadata.
 */
import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import {
  AccessTokenError,
  bearerToken,
  verifyAccessToken,
  wwwAuthenticate,
  type BearerChallenge,
} from '../auth/access-token';
import { tokenCaller, type Caller } from './caller';

export const PROTECTED_RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource';
const REALM = 'ciba-temporal-mcp';

export interface McpAuthOptions {
  /** The MCP endpoint's URL: the resource identifier. */
  resource: string;
  issuer: string;
  /** The issuer's JWKS URL; default from its OpenID/OAuth discovery document. */
  jwksUrl?: string;
  extraAudiences?: readonly string[];
  requiredScopes?: readonly string[];
}

export class McpAuth {
  private jwks?: JWTVerifyGetKey;

  constructor(readonly options: McpAuthOptions) {}

  /** RFC 9728 Section 3.1: the metadata URL for the resource (its path after the well-known prefix), and the plain one. */
  get metadataUrl(): string {
    const url = new URL(this.options.resource);
    return `${url.origin}${PROTECTED_RESOURCE_METADATA_PATH}${url.pathname === '/' ? '' : url.pathname}`;
  }

  /** The protected resource metadata document (RFC 9728 Section 2). */
  metadata(): Record<string, unknown> {
    return {
      resource: this.options.resource,
      authorization_servers: [this.options.issuer],
      bearer_methods_supported: ['header'],
      scopes_supported: [...(this.options.requiredScopes ?? [])],
      resource_name: 'ciba-temporal approvals (MCP)',
    };
  }

  /** The caller of a request with this Authorization header; throws AccessTokenError (401/403). */
  async authenticate(authorization: string | undefined): Promise<Caller> {
    const token = bearerToken(authorization);
    if (!token) throw new MissingTokenError();
    const claims = await verifyAccessToken(token, {
      issuer: this.options.issuer,
      audience: [this.options.resource, ...(this.options.extraAudiences ?? [])],
      jwks: await this.keys(),
      requiredScopes: this.options.requiredScopes,
    });
    return tokenCaller(claims);
  }

  /** The WWW-Authenticate value for a refused request (no error code when it carried no token). */
  challenge(error?: AccessTokenError): string {
    const challenge: BearerChallenge = { realm: REALM, resourceMetadata: this.metadataUrl };
    if (error) challenge.error = error;
    const scope = this.options.requiredScopes?.join(' ');
    if (scope) challenge.scope = scope;
    return wwwAuthenticate(challenge);
  }

  private async keys(): Promise<JWTVerifyGetKey> {
    if (this.jwks) return this.jwks;
    let jwksUrl = this.options.jwksUrl;
    if (!jwksUrl) {
      const response = await fetch(`${this.options.issuer}/.well-known/openid-configuration`, {
        signal: AbortSignal.timeout(10_000),
      });
      if (!response.ok) throw new Error(`the issuer's discovery document answered HTTP ${response.status}`);
      jwksUrl = String(((await response.json()) as { jwks_uri?: unknown }).jwks_uri);
    }
    this.jwks = createRemoteJWKSet(new URL(jwksUrl));
    return this.jwks;
  }
}

/** The request carried no bearer token: 401 with a challenge but no error code (RFC 6750 Section 3.1). */
export class MissingTokenError extends Error {
  override readonly name = 'MissingTokenError';
  constructor() {
    super('no bearer token');
  }
}

export { AccessTokenError };

import Provider, { errors, type ClientMetadata, type Configuration } from 'oidc-provider';

import { MAX_REQUESTED_EXPIRY_SECONDS } from '../common/approval';
import { ASYMMETRIC_JWS_ALGS } from '../common/jws';
import type { IdpBehaviour } from './behaviour';
import { CIBA_GRANT_TYPE } from './ciba-middleware';
import type { ClientJwks } from './client-keys';
import { FileAdapter } from './file-adapter';
import { jwtAccessTokenRevocation } from './jwt-access-tokens';
import type { FileStore } from './file-store';
import { publicJwks, type ProviderKeys } from './keys';
import { authorizationDetailsTypes } from './rar';
import {
  isTemporalClient,
  TEMPORAL_RESOURCE,
  TEMPORAL_RESOURCE_SCOPE,
  temporalClients,
  temporalTokenClaims,
  type TemporalClientSecrets,
} from './temporal-clients';
import { findAccount, resolveLoginHint } from './users';

/** Auth0's paths, so a client configured for Auth0 only changes the issuer. */
export const ROUTES = {
  backchannel: '/bc-authorize',
  token: '/oauth/token',
  jwks: '/.well-known/jwks.json',
  userinfo: '/userinfo',
  /** RFC 7009 (Auth0's path). */
  revocation: '/oauth/revoke',
  /** RFC 7662 (Auth0 has none; Keycloak's is .../token/introspect). */
  introspection: '/oauth/introspect',
} as const;

/** Where the ping client is notified unless IDP_PING_NOTIFICATION_ENDPOINT says otherwise (nothing listens here). */
export const DEFAULT_PING_NOTIFICATION_ENDPOINT = 'https://localhost:8443/ciba/notify';

/** Auth0's default when the client sends no requested_expiry. */
const DEFAULT_REQUEST_EXPIRY_SECONDS = 300;

export const RESOURCE_SCOPE = 'payments:write payments:read';
/**
 * A second API the provider issues JWT access tokens for: the Temporal UI's codec server in `jwt` mode
 * (devstack/codec-server.ts; `audience` or `resource` = this, scope `codec`). Its tokens never reach the payments API.
 */
export const CODEC_RESOURCE = 'urn:ciba-temporal:codec';
export const CODEC_RESOURCE_SCOPE = 'codec';
/**
 * The MCP server's HTTP transport (mcp/http.ts; scope `mcp`). MCP clients name it by its URL (RFC 8707, the MCP
 * authorization spec), so besides this name the local provider accepts any loopback `http://.../mcp` URL (the MCP
 * server of `npm start` or of a test, on whatever port). Its tokens never reach the payments API.
 */
export const MCP_RESOURCE = 'urn:ciba-temporal:mcp';
export const MCP_RESOURCE_SCOPE = 'mcp';
export function isMcpResource(indicator: string): boolean {
  return indicator === MCP_RESOURCE || /^http:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d{1,5}\/mcp$/.test(indicator);
}
/** Scopes the provider itself knows (the API's scopes come from getResourceServerInfo). */
export const OIDC_SCOPES = ['openid', 'offline_access', 'email', 'profile'];

export interface OidcProviderSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Public keys of the private_key_jwt client `<clientId>-jwt`. */
  clientJwks: ClientJwks;
  resource: string;
  keys: ProviderKeys;
  store: FileStore;
  /** Auth0 (default) or Keycloak rules (behaviour.ts). */
  behaviour: IdpBehaviour;
  /** The ping client's backchannel_client_notification_endpoint (https). */
  pingNotificationEndpoint?: string;
  /** authorization_details types accepted besides the known ones (rar.ts). */
  extraAuthorizationDetailsTypes?: readonly string[];
  /** The provider's outgoing fetch (pings); default oidc-provider's, which refuses loopback targets. */
  fetch?: Configuration['fetch'];
  /** Secrets of the Temporal API's client-credentials clients (temporal-clients.ts); none: no such clients. */
  temporalClientSecrets?: TemporalClientSecrets;
  /** Called when a backchannel request was accepted: the "push notification" to the user's device. */
  onAuthenticationRequest: (authReqId: string, accountId: string, clientId: string) => void;
}

/** The static clients: a poll-mode CIBA client and a ping-mode twin sharing its secret. */
export function staticClients(
  clientId: string,
  clientSecret: string,
  pingNotificationEndpoint = DEFAULT_PING_NOTIFICATION_ENDPOINT,
  detailTypes: readonly string[] = Object.keys(authorizationDetailsTypes()),
): ClientMetadata[] {
  const common = {
    client_secret: clientSecret,
    grant_types: [CIBA_GRANT_TYPE, 'refresh_token'],
    response_types: [],
    redirect_uris: [],
    // oidc-provider allows one method per client; Auth0 also accepts client_secret_post.
    token_endpoint_auth_method: 'client_secret_basic',
    // oidc-provider's default for this metadata is [] (no RAR at all): allow every configured type.
    authorization_details_types: [...detailTypes],
  } satisfies Partial<ClientMetadata>;
  return [
    { ...common, client_id: clientId, backchannel_token_delivery_mode: 'poll' },
    {
      ...common,
      client_id: `${clientId}-ping`,
      backchannel_token_delivery_mode: 'ping',
      // CIBA requires https here. A ping that fails (by default nothing listens there) is logged by the device
      // API; the client can still poll.
      backchannel_client_notification_endpoint: pingNotificationEndpoint,
    },
  ];
}

/**
 * The private_key_jwt client `<clientId>-jwt` (RFC 7523, OIDC Core 9): poll mode, the same grants and RAR types as
 * the secret clients; it proves its identity with a JWT signed by a key of `jwks`.
 */
export function privateKeyJwtClient(
  clientId: string,
  jwks: ClientJwks,
  detailTypes: readonly string[] = Object.keys(authorizationDetailsTypes()),
): ClientMetadata {
  return {
    client_id: `${clientId}-jwt`,
    grant_types: [CIBA_GRANT_TYPE, 'refresh_token'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'private_key_jwt',
    jwks,
    backchannel_token_delivery_mode: 'poll',
    authorization_details_types: [...detailTypes],
  };
}

/** Auth0's methods (mTLS aside); every asymmetric assertion algorithm the worker can sign with (Auth0: RS256, RS384, PS256). */
const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;
const CLIENT_AUTH_SIGNING_ALGS = ASYMMETRIC_JWS_ALGS;

export function createOidcProvider(settings: OidcProviderSettings): Provider {
  const { issuer, resource, keys, store, behaviour } = settings;
  const detailTypes = authorizationDetailsTypes(settings.extraAuthorizationDetailsTypes);

  const configuration: Configuration = {
    adapter: (model: string) => new FileAdapter(model, store),
    clients: [
      ...staticClients(
        settings.clientId,
        settings.clientSecret,
        settings.pingNotificationEndpoint,
        Object.keys(detailTypes),
      ),
      privateKeyJwtClient(settings.clientId, settings.clientJwks, Object.keys(detailTypes)),
      ...temporalClients(settings.temporalClientSecrets),
    ],
    clientAuthMethods: CLIENT_AUTH_METHODS,
    enabledJWA: { clientAuthSigningAlgValues: CLIENT_AUTH_SIGNING_ALGS },
    jwks: keys.jwks,
    ...(settings.fetch ? { fetch: settings.fetch } : {}),
    cookies: { keys: keys.cookieKeys },
    routes: {
      backchannel_authentication: ROUTES.backchannel,
      token: ROUTES.token,
      jwks: ROUTES.jwks,
      userinfo: ROUTES.userinfo,
      revocation: ROUTES.revocation,
      introspection: ROUTES.introspection,
    },
    scopes: OIDC_SCOPES,
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    findAccount: (_ctx, sub) => findAccount(sub),
    // The Temporal API's tokens carry `permissions` (the server's default JWT claim mapper reads them).
    extraTokenClaims: (_ctx, token) => temporalTokenClaims(token as Parameters<typeof temporalTokenClaims>[0]),
    // Auth0-style `audience` selects the API (resource indicator).
    extraParams: ['audience'],
    // Refresh tokens only when offline_access was requested (as Auth0).
    issueRefreshToken: (_ctx, client, source) =>
      client.grantTypeAllowed('refresh_token') && source.scopes.has('offline_access'),
    clientBasedCORS: () => false,
    renderError: (ctx, out) => {
      ctx.type = 'json';
      ctx.body = out;
    },
    ttl: {
      AccessToken: 3600,
      IdToken: 3600,
      RefreshToken: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
      Session: 14 * 24 * 3600,
      Interaction: 3600,
      ClientCredentials: 600,
      DeviceCode: 600,
      PreAuthorizedCode: 600,
      // requested_expiry is honoured (range-checked in validateRequestContext), default 300 like Auth0.
      BackchannelAuthenticationRequest: (ctx) => {
        const requested = Number(ctx?.oidc?.params?.requested_expiry);
        return Number.isSafeInteger(requested) && requested > 0 ? requested : DEFAULT_REQUEST_EXPIRY_SECONDS;
      },
    },
    features: {
      devInteractions: { enabled: false },
      // Only the Temporal API's clients have this grant (temporal-clients.ts).
      clientCredentials: { enabled: true },
      // RFC 7009 and RFC 7662 for a client's own tokens: the worker revokes tokens it does not hand back, and tests
      // check they are gone. oidc-provider handles the tokens it stores (refresh tokens); JWT access tokens are
      // handled by jwtAccessTokenRevocation (below).
      revocation: { enabled: true, allowedPolicy: ownTokenOnly('revoke') },
      introspection: { enabled: true, allowedPolicy: ownTokenOnly('introspect') },
      ciba: {
        enabled: true,
        deliveryModes: ['poll', 'ping'],
        processLoginHint: (_ctx, loginHint) =>
          (loginHint ? resolveLoginHint(loginHint, issuer) : undefined) ?? behaviour.unknownUser(),
        processLoginHintToken: () => {
          throw new errors.InvalidRequest('login_hint_token is not supported, use login_hint');
        },
        validateBindingMessage: (_ctx, bindingMessage) => behaviour.validateBindingMessage(bindingMessage),
        // No request_context policy; this hook (run with the other request checks) enforces Auth0's
        // requested_expiry range instead.
        validateRequestContext: (ctx) => {
          const requested = ctx.oidc.params?.requested_expiry;
          if (requested !== undefined && Number(requested) > MAX_REQUESTED_EXPIRY_SECONDS) {
            throw new errors.InvalidRequest(`requested_expiry must be between 1 and ${MAX_REQUESTED_EXPIRY_SECONDS}`);
          }
        },
        verifyUserCode: () => undefined,
        triggerAuthenticationDevice: (_ctx, request, account, client) => {
          settings.onAuthenticationRequest(request.jti, account.accountId, client.clientId);
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: (ctx, client, oneOf) => {
          if (oneOf) return oneOf;
          // Client credentials take no `audience` here: the Temporal API's clients get their one resource.
          if (isTemporalClient(client.clientId)) return TEMPORAL_RESOURCE;
          const audience = ctx.oidc.params?.audience;
          return typeof audience === 'string' && audience ? audience : resource;
        },
        // The poll carries no resource parameter: use what the backchannel request asked for.
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resourceIndicator, client) => {
          // The Temporal API: only its own clients (client credentials), and nothing else for them.
          if ((resourceIndicator === TEMPORAL_RESOURCE) !== isTemporalClient(client.clientId)) {
            throw new errors.InvalidTarget(`resource ${resourceIndicator} is not available to this client`);
          }
          const scope =
            resourceIndicator === resource
              ? RESOURCE_SCOPE
              : resourceIndicator === CODEC_RESOURCE
                ? CODEC_RESOURCE_SCOPE
                : resourceIndicator === TEMPORAL_RESOURCE
                  ? TEMPORAL_RESOURCE_SCOPE
                  : isMcpResource(resourceIndicator)
                    ? MCP_RESOURCE_SCOPE
                    : undefined;
          if (!scope) throw new errors.InvalidTarget(`unknown resource ${resourceIndicator}`);
          return {
            scope,
            audience: resourceIndicator,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
      richAuthorizationRequests: {
        enabled: true,
        types: detailTypes,
        // Only for authorization code / device flows, which no client here can use: CIBA requests get their
        // details from backchannelResult({ rar }) when the user approves.
        authorizationDetailsForGrantSource: () => undefined,
        // The access token (JWT claim `authorization_details`) and the token response carry exactly what the
        // user approved.
        authorizationDetailsForAccessToken: (_ctx, _token, source) => source?.rar,
        authorizationDetailsForIntrospection: (_ctx, token) => token.rar,
      },
    },
  };

  const provider = new Provider(issuer, configuration);
  provider.use(jwtAccessTokenRevocation({ issuer, jwks: publicJwks(keys), store }));
  return provider;
}

/**
 * Revocation and introspection policy: a client revokes (RFC 7009 2.1: an other client's token is refused) and
 * introspects (an other client's token is inactive to it) only the tokens issued to it.
 */
function ownTokenOnly(action: 'revoke' | 'introspect') {
  return (_ctx: unknown, client: { clientId: string }, token: { clientId?: string }): boolean => {
    if (token.clientId === client.clientId) return true;
    if (action === 'revoke') throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
    return false;
  };
}

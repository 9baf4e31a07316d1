/**
 * The CIBA protocol, client side: a small set of precise functions over oauth4webapi, with undici as the
 * HTTP transport. It knows OAuth and HTTP, nothing of Temporal; activities.ts adapts it to activities.
 *
 * Every failure is one of four classes, so that callers can decide what is safe to repeat:
 * - ProviderError: the provider answered with an OAuth error body (`error`, `error_description`).
 * - ProviderUnavailableError: HTTP 429 or 5xx; `retryAfterSeconds` from the Retry-After header.
 * - TransportError: no HTTP answer at all; `requestSent` says whether the request may have left this process.
 * - InvalidProviderResponseError: an answer that is not valid OAuth/CIBA (HTML page, malformed JSON, missing fields).
 *   When it was a token response that carried tokens anyway, unreturnedTokensOf(error) has them, to be revoked.
 */
import type { KeyObject } from 'node:crypto';
import { importJWK } from 'jose';
import * as oauth from 'oauth4webapi';
import { Agent, fetch as undiciFetch } from 'undici';
import type { ApprovalRequest, AuthorizationDetail } from '../common/approval';
import type { BackchannelAcknowledgment, PollOutcome, TokenSet } from '../common/ciba-answers';
import { ASYMMETRIC_JWS_ALGS } from '../common/jws';
import type { RevocableToken } from '../common/provider-profile';

/** JWS algorithms for a private_key_jwt client assertion. */
export const CLIENT_SIGNING_ALGS = ASYMMETRIC_JWS_ALGS;
export type ClientSigningAlg = (typeof CLIENT_SIGNING_ALGS)[number];

/** How the client authenticates at the backchannel and token endpoints (OpenID Connect Core 9). */
export type ClientAuthentication =
  | { method: 'client_secret_basic' | 'client_secret_post'; clientSecret: string }
  | {
      /** RFC 7523: a short-lived JWT signed with the client's private key; the provider holds the public key. */
      method: 'private_key_jwt';
      /** RSA, EC P-256/P-384/P-521 or Ed25519. A KeyObject: printing the configuration never shows the key. */
      privateKey: KeyObject;
      /** The assertion's `kid`: which key of the client's registered JWKS verifies it. */
      keyId: string;
      /** The assertion's `alg`; suits the key (RS/PS for RSA, ES for EC, EdDSA or Ed25519 for Ed25519). */
      signingAlg: ClientSigningAlg;
    };

export interface CibaClientConfig {
  issuer: URL;
  clientId: string;
  /** Client authentication: a secret (client_secret_basic, client_secret_post) or a private key (private_key_jwt). */
  clientAuth: ClientAuthentication;
  /** Per request: connecting, then waiting for response headers, then for the body. */
  httpTimeoutMs: number;
  /** Allow plain http to a provider that is not on this machine (never in production). Loopback is always allowed. */
  allowInsecureHttp?: boolean;
  /**
   * Requests in flight at once (default: unlimited). More wait their turn before they are sent, so that a saturated
   * provider sees a queue in the worker instead of requests that time out after it processed them.
   */
  maxConcurrentRequests?: number;
  /** How long a request may wait for its turn before it gives up unsent (default MAX_TURN_WAIT_MS). */
  maxTurnWaitMs?: number;
}

export class ProviderError extends Error {
  override readonly name = 'ProviderError';
  constructor(
    readonly error: string,
    readonly errorDescription: string | undefined,
    readonly status: number,
  ) {
    super(errorDescription ? `${error}: ${errorDescription}` : error);
  }
}

export class ProviderUnavailableError extends Error {
  override readonly name = 'ProviderUnavailableError';
  constructor(
    readonly status: number,
    readonly retryAfterSeconds: number | undefined,
  ) {
    super(
      `provider answered HTTP ${status}${retryAfterSeconds !== undefined ? ` (Retry-After: ${retryAfterSeconds} s)` : ''}`,
    );
  }
}

export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    message: string,
    /** false only when the connection was never established, so the provider cannot have seen the request. */
    readonly requestSent: boolean,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

export class InvalidProviderResponseError extends Error {
  override readonly name = 'InvalidProviderResponseError';
}

/** Tokens an answer carried that the caller will not get (RFC 7009 can revoke them). */
export interface UnreturnedTokens {
  accessToken?: string;
  refreshToken?: string;
}

/**
 * Tokens carried by a token response that was otherwise invalid, by the error it ended with. Kept beside the error,
 * never on it: an error is printed and serialized, and these must appear nowhere.
 */
const tokensOfInvalidResponses = new WeakMap<InvalidProviderResponseError, UnreturnedTokens>();

/** The tokens of a token response that was issued (HTTP 200) but is invalid, if it carried any: revoke them. */
export function unreturnedTokensOf(error: unknown): UnreturnedTokens | undefined {
  return error instanceof InvalidProviderResponseError ? tokensOfInvalidResponses.get(error) : undefined;
}

// The answers' shapes are shared with the pure decisions (common/polling.ts), so they live in common/.
export type { BackchannelAcknowledgment, PollOutcome, TokenSet } from '../common/ciba-answers';

/** Connection errors that happen before a single byte of the request is written. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

export class CibaClient {
  private readonly agent: Agent;
  private readonly client: oauth.Client;
  private readonly clientAuth: oauth.ClientAuth;
  private readonly httpOptions: { [oauth.customFetch]: typeof fetch; [oauth.allowInsecureRequests]: boolean };
  private discovery?: Promise<oauth.AuthorizationServer>;
  /** private_key_jwt: the key imported once (async), then reused for every assertion. */
  private signer?: Promise<oauth.ClientAuth>;
  private readonly turns: Turns;

  /** The provider's issuer URL. */
  get issuer(): string {
    return this.config.issuer.href;
  }

  constructor(private readonly config: CibaClientConfig) {
    this.agent = new Agent({
      connect: { timeout: config.httpTimeoutMs },
      headersTimeout: config.httpTimeoutMs,
      bodyTimeout: config.httpTimeoutMs,
      keepAliveTimeout: 30_000,
    });
    this.client = { client_id: config.clientId };
    this.turns = new Turns(config.maxConcurrentRequests ?? Infinity);
    this.clientAuth = this.clientAuthentication(config.clientAuth);
    const agent = this.agent;
    this.httpOptions = {
      [oauth.customFetch]: ((url: string, init: RequestInit) =>
        undiciFetch(url, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch,
      // Plain http only for a provider on this machine (the local stack), or when explicitly allowed.
      [oauth.allowInsecureRequests]:
        config.issuer.protocol === 'http:' &&
        (LOOPBACK_HOSTS.has(config.issuer.hostname) || config.allowInsecureHttp === true),
    };
  }

  /** A client whose authentication is ready: for private_key_jwt, a key that cannot sign fails here, not at the first request. */
  static async create(config: CibaClientConfig): Promise<CibaClient> {
    const client = new CibaClient(config);
    await client.ready();
    return client;
  }

  /** Resolves once client authentication can be used (private_key_jwt: the key imported into WebCrypto). */
  async ready(): Promise<void> {
    if (this.config.clientAuth.method === 'private_key_jwt') await this.privateKeyJwt(this.config.clientAuth);
  }

  private clientAuthentication(auth: ClientAuthentication): oauth.ClientAuth {
    switch (auth.method) {
      case 'client_secret_basic':
        return oauth.ClientSecretBasic(auth.clientSecret);
      case 'client_secret_post':
        return oauth.ClientSecretPost(auth.clientSecret);
      case 'private_key_jwt':
        // The key import is async and the constructor is not: it happens once, before the first assertion.
        return async (as, client, body, headers) => (await this.privateKeyJwt(auth))(as, client, body, headers);
    }
  }

  private privateKeyJwt(auth: Extract<ClientAuthentication, { method: 'private_key_jwt' }>): Promise<oauth.ClientAuth> {
    this.signer ??= importJWK(auth.privateKey.export({ format: 'jwk' }), auth.signingAlg, { extractable: false }).then(
      (key) =>
        oauth.PrivateKeyJwt(
          { key: key as oauth.CryptoKey, kid: auth.keyId },
          // oauth4webapi calls an Ed25519 key's algorithm "Ed25519" (RFC 9864); many providers know only "EdDSA".
          { [oauth.modifyAssertion]: (header) => void (header.alg = auth.signingAlg) },
        ),
      (error: unknown) => {
        // An argument error, which send() passes on as is: never a transport fault, nothing to retry.
        const failure = new TypeError(
          `the client's private key cannot sign ${auth.signingAlg}: ${(error as Error).message}`,
        );
        throw Object.assign(failure, { code: 'ERR_INVALID_ARG_VALUE' });
      },
    );
    return this.signer;
  }

  /** Provider metadata by OpenID discovery, fetched once per process (again after a failure). */
  async authorizationServer(): Promise<oauth.AuthorizationServer> {
    this.discovery ??= this.send(() => oauth.discoveryRequest(this.config.issuer, this.httpOptions))
      .then((response) => this.process(() => oauth.processDiscoveryResponse(this.config.issuer, response)))
      .then((as) => {
        if (!as.backchannel_authentication_endpoint) {
          throw new InvalidProviderResponseError(
            `${this.config.issuer.href} does not advertise a backchannel_authentication_endpoint: CIBA is not enabled there`,
          );
        }
        return as;
      });
    try {
      return await this.discovery;
    } catch (error) {
      this.discovery = undefined;
      if (error instanceof TransportError) {
        // Discovery happens before the CIBA request: whatever failed, that request was not sent.
        throw new TransportError(`discovery failed: ${error.message}`, false, error.code);
      }
      throw error;
    }
  }

  /** CIBA Core 7.1: ask the provider to authenticate the user; it notifies the user's device. */
  async requestBackchannelAuthentication(
    request: ApprovalRequest,
    options: { clientNotificationToken?: string } = {},
  ): Promise<BackchannelAcknowledgment> {
    const as = await this.authorizationServer();
    const response = await this.send(() =>
      oauth.backchannelAuthenticationRequest(
        as,
        this.client,
        this.clientAuth,
        backchannelParameters(request, options.clientNotificationToken),
        this.httpOptions,
      ),
    );
    const ack = await this.process(() => oauth.processBackchannelAuthenticationResponse(as, this.client, response));
    return { authReqId: ack.auth_req_id, expiresIn: ack.expires_in, interval: ack.interval };
  }

  /** CIBA Core 10.1: one poll of the token endpoint. Protocol answers are values; faults are thrown. */
  async pollToken(authReqId: string): Promise<PollOutcome> {
    const as = await this.authorizationServer();
    const response = await this.send(() =>
      oauth.backchannelAuthenticationGrantRequest(as, this.client, this.clientAuth, authReqId, this.httpOptions),
    );
    const copy = response.clone(); // to find the tokens of an issued but invalid answer
    try {
      const tokens = await this.process(() =>
        oauth.processBackchannelAuthenticationGrantResponse(as, this.client, response),
      );
      return { kind: 'approved', tokens: toTokenSet(tokens) };
    } catch (error) {
      if (error instanceof InvalidProviderResponseError && copy.status === 200) {
        const tokens = await issuedTokens(copy);
        if (tokens) tokensOfInvalidResponses.set(error, tokens);
      }
      if (!(error instanceof ProviderError)) throw error;
      switch (error.error) {
        case 'authorization_pending':
          return { kind: 'authorization_pending' };
        case 'slow_down':
          return { kind: 'slow_down', interval: bodyInterval(error), retryAfterSeconds: retryAfter(response) };
        case 'access_denied':
        case 'expired_token':
        case 'invalid_grant':
          return { kind: error.error, description: error.errorDescription };
        default:
          throw error;
      }
    }
  }

  /** The provider's revocation_endpoint (RFC 7009, RFC 8414), if discovery advertises one. */
  async revocationEndpoint(): Promise<string | undefined> {
    return (await this.authorizationServer()).revocation_endpoint;
  }

  /**
   * RFC 7009: revoke one token, authenticated as for every other request. Resolves once the provider answered 200
   * (revoked, or no longer valid: RFC 7009 2.2). Its refusals (`unsupported_token_type`, `invalid_client`, ...) are
   * ProviderErrors; a provider without a revocation_endpoint is an InvalidProviderResponseError.
   */
  async revokeToken(token: string, tokenTypeHint: RevocableToken): Promise<void> {
    const as = await this.authorizationServer();
    if (!as.revocation_endpoint) {
      throw new InvalidProviderResponseError(`${this.config.issuer.href} advertises no revocation_endpoint`);
    }
    const response = await this.send(() =>
      oauth.revocationRequest(as, this.client, this.clientAuth, token, {
        ...this.httpOptions,
        additionalParameters: { token_type_hint: tokenTypeHint },
      }),
    );
    await this.process(() => oauth.processRevocationResponse(response));
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /**
   * Sends one request and reads its whole answer; maps transport failures and 429/5xx answers to their error
   * classes. The body is read here, not by oauth4webapi: a connection lost (or a body timeout) after the headers is
   * a transport fault (the request reached the provider), not an invalid answer, and must be classified as one.
   */
  private async send(request: () => Promise<Response>): Promise<Response> {
    const maxWaitMs = this.config.maxTurnWaitMs ?? MAX_TURN_WAIT_MS;
    const done = await this.turns.take(maxWaitMs).catch(() => {
      // Not sent: the initiation may be sent again (InitiationNotSent), a poll is retried.
      throw new TransportError(
        `not sent: ${maxWaitMs / 1000} s without a free connection to the provider (worker overloaded)`,
        false,
        'CIBA_NO_TURN',
      );
    });
    try {
      return await this.sendNow(request);
    } finally {
      done();
    }
  }

  private async sendNow(request: () => Promise<Response>): Promise<Response> {
    let response: Response;
    let body: ArrayBuffer;
    try {
      response = await request();
      if (response.status === 413) {
        // Not processed, and sending it again will not help: the request itself is at fault (RFC 9110 15.5.14).
        await response.body?.cancel().catch(() => undefined);
        throw new ProviderError('invalid_request', 'the provider refused the request as too large (HTTP 413)', 413);
      }
      if (response.status === 429 || response.status >= 500) {
        await response.body?.cancel().catch(() => undefined);
        throw new ProviderUnavailableError(response.status, retryAfter(response));
      }
      body = await response.arrayBuffer();
    } catch (error) {
      if (error instanceof ProviderUnavailableError || error instanceof ProviderError) throw error;
      throw toTransportError(error);
    }
    return new Response(body.byteLength > 0 ? body : null, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  }

  /** Runs an oauth4webapi response processor; maps its errors to this module's classes. */
  private async process<T>(processor: () => Promise<T>): Promise<T> {
    try {
      return await processor();
    } catch (error) {
      if (error instanceof oauth.ResponseBodyError) {
        const providerError = new ProviderError(error.error, error.error_description, error.status);
        (providerError as { body?: unknown }).body = error.cause;
        throw providerError;
      }
      if (error instanceof oauth.WWWAuthenticateChallengeError) {
        const challenge = error.cause[0];
        const code = typeof challenge?.parameters.error === 'string' ? challenge.parameters.error : 'invalid_client';
        const description = challenge?.parameters.error_description;
        throw new ProviderError(code, typeof description === 'string' ? description : undefined, error.status);
      }
      if (
        error instanceof oauth.OperationProcessingError ||
        // e.g. a token_type other than bearer/DPoP: an answer this client cannot use, not a fault to retry.
        error instanceof oauth.UnsupportedOperationError ||
        error instanceof TypeError ||
        error instanceof SyntaxError
      ) {
        throw new InvalidProviderResponseError(`invalid response from the provider: ${error.message}`, {
          cause: error,
        });
      }
      throw error;
    }
  }
}

/**
 * How long a request may wait for its turn (CibaClientConfig.maxConcurrentRequests) before it gives up unsent: with
 * the HTTP timeout after it, well inside the activities' 30 s, so that no activity times out with its request unsent
 * (an initiation that timed out would end uncertain).
 */
export const MAX_TURN_WAIT_MS = 15_000;

/** At most `limit` holders at once; the others wait in order. */
class Turns {
  private holders = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  /** Resolves when it is the caller's turn, with the function that ends it; rejects after `maxWaitMs` without one. */
  async take(maxWaitMs: number): Promise<() => void> {
    if (this.holders >= this.limit) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(granted), 1);
          reject(new Error('no turn'));
        }, maxWaitMs);
        const granted = () => {
          clearTimeout(timer);
          resolve();
        };
        this.waiting.push(granted);
      });
    } else this.holders++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const next = this.waiting.shift();
      if (next)
        next(); // the turn passes on: holders unchanged
      else this.holders--;
    };
  }
}

/** The form parameters of a backchannel authentication request (CIBA Core 7.1, RFC 9396 section 2). */
export function backchannelParameters(request: ApprovalRequest, clientNotificationToken?: string): URLSearchParams {
  const params = new URLSearchParams({ scope: request.scope, binding_message: request.bindingMessage });
  // Ping mode (CIBA Core 7.1): the bearer token the provider's ping to our notification endpoint carries.
  if (clientNotificationToken !== undefined) params.set('client_notification_token', clientNotificationToken);
  if (request.loginHint !== undefined) params.set('login_hint', request.loginHint);
  if (request.loginHintToken !== undefined) params.set('login_hint_token', request.loginHintToken);
  if (request.idTokenHint !== undefined) params.set('id_token_hint', request.idTokenHint);
  if (request.authorizationDetails) params.set('authorization_details', JSON.stringify(request.authorizationDetails));
  if (request.audience !== undefined) params.set('audience', request.audience);
  if (request.requestedExpiry !== undefined) params.set('requested_expiry', String(request.requestedExpiry));
  if (request.acrValues) params.set('acr_values', request.acrValues.join(' '));
  return params;
}

/** The access and refresh tokens of a token response body, whatever else is wrong with it. */
async function issuedTokens(response: Response): Promise<UnreturnedTokens | undefined> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    return undefined;
  }
  if (body === null || typeof body !== 'object') return undefined;
  const { access_token: accessToken, refresh_token: refreshToken } = body as Record<string, unknown>;
  const tokens: UnreturnedTokens = {
    ...(typeof accessToken === 'string' && accessToken ? { accessToken } : {}),
    ...(typeof refreshToken === 'string' && refreshToken ? { refreshToken } : {}),
  };
  return tokens.accessToken || tokens.refreshToken ? tokens : undefined;
}

function toTokenSet(response: oauth.TokenEndpointResponse): TokenSet {
  return {
    tokenType: response.token_type,
    accessToken: response.access_token,
    idToken: response.id_token,
    refreshToken: response.refresh_token,
    expiresIn: response.expires_in,
    scope: response.scope,
    authorizationDetails: grantedAuthorizationDetails(response),
  };
}

/**
 * What the provider granted (RFC 9396 section 7): the token response's `authorization_details`, else the
 * `authorization_details` claim of a JWT access token (RFC 9396 section 9.1). The token came straight from the token
 * endpoint, so reading its claims needs no signature check here; the resource server verifies it.
 */
export function grantedAuthorizationDetails(response: {
  access_token: string;
  authorization_details?: unknown;
}): AuthorizationDetail[] | undefined {
  if (Array.isArray(response.authorization_details)) return response.authorization_details as AuthorizationDetail[];
  const claims = jwtClaims(response.access_token);
  return Array.isArray(claims?.authorization_details)
    ? (claims.authorization_details as AuthorizationDetail[])
    : undefined;
}

function jwtClaims(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
    return claims !== null && typeof claims === 'object' ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function bodyInterval(error: ProviderError): number | undefined {
  const interval = (error as { body?: Record<string, unknown> }).body?.interval;
  return typeof interval === 'number' && Number.isFinite(interval) && interval > 0 ? interval : undefined;
}

/** Retry-After as seconds (RFC 9110: delay-seconds or an HTTP date). */
export function retryAfter(response: Response, now = Date.now()): number | undefined {
  const value = response.headers.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000));
}

function toTransportError(error: unknown): Error {
  // oauth4webapi's own argument errors are programming errors, not transport faults.
  if (
    error instanceof Error &&
    'code' in error &&
    String((error as { code: unknown }).code).startsWith('ERR_INVALID_ARG')
  ) {
    return error;
  }
  const cause = (error as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  const code = cause?.code ?? (error as { code?: string } | undefined)?.code;
  const message = cause?.message ?? (error instanceof Error ? error.message : String(error));
  return new TransportError(
    `no answer from the provider: ${message}${code ? ` (${code})` : ''}`,
    !NOT_SENT_CODES.has(code ?? ''),
    code,
  );
}

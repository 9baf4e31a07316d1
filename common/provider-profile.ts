/**
 * Provider profiles: the rules in which CIBA providers differ, in one place. The worker runs with one profile
 * (CIBA_PROVIDER_PROFILE); every request is checked against it before anything is sent, so that a request the
 * provider would refuse fails with an error naming the rule, and the user is never notified of it.
 *
 * This file is imported by workflow code: keep it deterministic (no I/O, no Node APIs).
 */
import type { AuthorizationDetail } from './authorization-detail';

export const PROVIDER_PROFILE_NAMES = ['generic', 'auth0', 'keycloak'] as const;
export type ProviderProfileName = (typeof PROVIDER_PROFILE_NAMES)[number];

/** Limits a provider puts on `authorization_details` (RFC 9396 leaves them to the provider). */
export interface AuthorizationDetailsLimits {
  /** Size of the JSON text as sent. */
  maxBytes: number;
  maxEntries: number;
  /** Members of any one object. */
  maxProperties: number;
  /** Length of any member name or string value. */
  maxStringLength: number;
  /** Nesting depth: the array of entries is level 0, an entry's members level 1. */
  maxDepth: number;
}

export type TokenDeliveryMode = 'poll' | 'ping';

/** Tokens a provider may revoke at its revocation_endpoint (RFC 7009), by their `token_type_hint`. */
export type RevocableToken = 'refresh_token' | 'access_token';

export interface ProviderProfile {
  name: ProviderProfileName;
  bindingMessage: {
    pattern: RegExp;
    /** The rule in words, for error messages. */
    rule: string;
    /** How a repeated ask marks its binding message (it must still match `pattern`). */
    repeatPrefix: string;
  };
  authorizationDetails: AuthorizationDetailsLimits;
  /** CIBA token delivery modes the provider offers (CIBA Core 5): Auth0 polls only. */
  tokenDeliveryModes: readonly TokenDeliveryMode[];
  /** Maps a provider's error answer to CIBA Core 13's error code where the provider names it otherwise. */
  cibaError(error: string, errorDescription: string | undefined): string;
  /**
   * Tokens the worker revokes (RFC 7009) when they were issued but not handed back to the agent, at the
   * revocation_endpoint that discovery advertises (none advertised: nothing is revoked).
   */
  revocation: {
    /** Which tokens the provider revokes; the refresh token goes first (it may carry the grant with it). */
    revokes: readonly RevocableToken[];
    /** What stays valid, in words (for the revocation report and the logs). */
    leaves?: string;
  };
}

/** The standard names: CIBA Core 13 and RFC 6749 5.2. */
const standardCibaError = (error: string): string => error;

const GENERIC: ProviderProfile = {
  name: 'generic',
  bindingMessage: {
    // CIBA Core 7.1 sets no character set; keep it short, printable and on one line.
    pattern: /^(?=.*[^\s])[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]{1,128}$/u,
    rule: '1 to 128 printable characters on one line, not only spaces',
    repeatPrefix: 'Again: ',
  },
  authorizationDetails: { maxBytes: 16_384, maxEntries: 20, maxProperties: 50, maxStringLength: 1_024, maxDepth: 8 },
  tokenDeliveryModes: ['poll', 'ping'],
  cibaError: standardCibaError,
  // RFC 7009 2.1: refresh tokens must be revocable, access tokens should be; a provider that cannot revoke one answers
  // unsupported_token_type.
  revocation: { revokes: ['refresh_token', 'access_token'] },
};

/** Auth0: https://auth0.com/docs/get-started/authentication-and-authorization-flow/client-initiated-backchannel-authentication-flow */
const AUTH0: ProviderProfile = {
  name: 'auth0',
  bindingMessage: {
    pattern: /^(?=.*[^ ])[\p{L}\p{N} +\-_.,:#]{1,64}$/u,
    rule: '1 to 64 characters of letters, digits, spaces and + - _ . , : # (not only spaces)',
    repeatPrefix: 'Again: ',
  },
  // Auth0's limits for authorization_details outside Guardian push.
  authorizationDetails: { maxBytes: 5_120, maxEntries: 5, maxProperties: 10, maxStringLength: 255, maxDepth: 5 },
  tokenDeliveryModes: ['poll'],
  cibaError: standardCibaError,
  // Auth0's /oauth/revoke revokes refresh tokens only: its access tokens (JWTs) stay valid until they expire.
  revocation: {
    revokes: ['refresh_token'],
    leaves: 'Auth0 revokes refresh tokens only: the access token stays valid until it expires',
  },
};

/** Keycloak 26: CibaGrantType / BackchannelAuthenticationEndpoint. */
const KEYCLOAK: ProviderProfile = {
  name: 'keycloak',
  bindingMessage: {
    pattern: /^[a-zA-Z0-9-._+/!?#]{1,50}$/,
    rule: '1 to 50 characters of letters, digits and - . _ + / ! ? # (no spaces)',
    repeatPrefix: 'Again-',
  },
  authorizationDetails: GENERIC.authorizationDetails,
  tokenDeliveryModes: ['poll', 'ping'],
  // Keycloak names an unknown user invalid_request / "invalid_user".
  cibaError: (error, description) =>
    error === 'invalid_request' && description === 'invalid_user' ? 'unknown_user_id' : error,
  // /protocol/openid-connect/revoke takes refresh, offline and access tokens.
  revocation: { revokes: ['refresh_token', 'access_token'] },
};

export const PROVIDER_PROFILES: Record<ProviderProfileName, ProviderProfile> = {
  generic: GENERIC,
  auth0: AUTH0,
  keycloak: KEYCLOAK,
};

/** The profile an issuer obviously belongs to (an Auth0 tenant, a Keycloak realm), else `generic`. */
export function profileForIssuer(issuer: URL): ProviderProfileName {
  if (/\.auth0\.com$/i.test(issuer.hostname)) return 'auth0';
  if (/\/realms\/[^/]+\/?$/.test(issuer.pathname)) return 'keycloak';
  return 'generic';
}

/** What a request must satisfy for this profile: the binding message rule and the authorization_details limits. */
export interface ProfileViolation {
  /** The request field at fault. */
  field: 'bindingMessage' | 'authorizationDetails';
  message: string;
}

/**
 * The violations of `profile`'s rules by a request, none when it may be sent. `repeatable`: the request may be
 * asked again after a lost answer, so its repeat-marked binding message must fit the rule as well.
 */
export function profileViolations(
  profile: ProviderProfile,
  request: { bindingMessage: string; authorizationDetails?: AuthorizationDetail[] },
  options: { repeatable?: boolean } = {},
): ProfileViolation[] {
  const violations: ProfileViolation[] = [];
  const { pattern, rule } = profile.bindingMessage;
  if (!pattern.test(request.bindingMessage)) {
    violations.push({
      field: 'bindingMessage',
      message: `bindingMessage must be ${rule} (provider profile ${profile.name})`,
    });
  } else if (options.repeatable && !pattern.test(repeatBindingMessage(profile, request.bindingMessage))) {
    violations.push({
      field: 'bindingMessage',
      message:
        `bindingMessage is too long to be marked as a repeat ("${profile.bindingMessage.repeatPrefix}…") when asked ` +
        `again after a lost answer: it must be ${rule} with the mark (provider profile ${profile.name})`,
    });
  }
  if (request.authorizationDetails) {
    const problem = authorizationDetailsProblem(request.authorizationDetails, profile.authorizationDetails);
    if (problem)
      violations.push({ field: 'authorizationDetails', message: `${problem} (provider profile ${profile.name})` });
  }
  return violations;
}

/** One token to revoke, with its `token_type_hint`. */
export interface TokenToRevoke {
  hint: RevocableToken;
  token: string;
}

/**
 * The tokens to revoke of those issued but not handed back, in order (refresh token first, then the access token), and
 * the ones `profile` leaves alone, with why. Never the ID token: it grants nothing and cannot be revoked.
 */
export function tokensToRevoke(
  profile: ProviderProfile,
  tokens: { accessToken?: string; refreshToken?: string },
): { revoke: TokenToRevoke[]; left: Array<{ hint: RevocableToken; reason: string }> } {
  const revoke: TokenToRevoke[] = [];
  const left: Array<{ hint: RevocableToken; reason: string }> = [];
  const issued: TokenToRevoke[] = [];
  if (tokens.refreshToken) issued.push({ hint: 'refresh_token', token: tokens.refreshToken });
  if (tokens.accessToken) issued.push({ hint: 'access_token', token: tokens.accessToken });
  for (const token of issued) {
    if (profile.revocation.revokes.includes(token.hint)) revoke.push(token);
    else {
      const reason = profile.revocation.leaves ?? `the ${profile.name} provider profile does not revoke ${token.hint}s`;
      left.push({ hint: token.hint, reason: `${reason} (provider profile ${profile.name})` });
    }
  }
  return { revoke, left };
}

/** The binding message of a request sent again after a lost answer: the user can tell it is a repeat. */
export function repeatBindingMessage(profile: ProviderProfile, bindingMessage: string): string {
  return `${profile.bindingMessage.repeatPrefix}${bindingMessage}`;
}

/** The first limit `details` exceeds, in words; undefined when within all of them. */
export function authorizationDetailsProblem(
  details: unknown[],
  limits: AuthorizationDetailsLimits,
): string | undefined {
  const bytes = utf8Length(JSON.stringify(details));
  if (bytes > limits.maxBytes) return `authorizationDetails is ${bytes} bytes as JSON, more than ${limits.maxBytes}`;
  if (details.length > limits.maxEntries) {
    return `authorizationDetails has ${details.length} entries, more than ${limits.maxEntries}`;
  }
  return walk(details, 0, 'authorizationDetails', limits);
}

function walk(value: unknown, depth: number, path: string, limits: AuthorizationDetailsLimits): string | undefined {
  if (typeof value === 'string') {
    return value.length > limits.maxStringLength
      ? `${path} is ${value.length} characters long, more than ${limits.maxStringLength}`
      : undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  if (depth > limits.maxDepth) return `${path} is nested ${depth} levels deep, more than ${limits.maxDepth}`;
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
  if (!Array.isArray(value) && entries.length > limits.maxProperties) {
    return `${path} has ${entries.length} properties, more than ${limits.maxProperties}`;
  }
  for (const [key, child] of entries) {
    if (!Array.isArray(value) && key.length > limits.maxStringLength) {
      return `${path} has a property name of ${key.length} characters, more than ${limits.maxStringLength}`;
    }
    const problem = walk(child, depth + 1, Array.isArray(value) ? `${path}[${key}]` : `${path}.${key}`, limits);
    if (problem) return problem;
  }
  return undefined;
}

/** UTF-8 length without Node's Buffer (this file runs in the workflow sandbox too). */
function utf8Length(text: string): number {
  let bytes = 0;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
  }
  return bytes;
}

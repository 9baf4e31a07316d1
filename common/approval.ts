/**
 * The approval request and its result: the contract between agents, the client library, the CLI and the
 * approval workflow. Validated with zod at the client (before any workflow starts) and again inside the
 * workflow (histories outlive clients).
 *
 * This file is imported by workflow code: keep it deterministic (zod only, no I/O, no Node APIs).
 */
import { z } from 'zod';

/** Auth0's binding_message rule: at most 64 characters of letters, digits, spaces and `+-_.,:#`. */
export const BINDING_MESSAGE_PATTERN = /^[\p{L}\p{N} +\-_.,:#]{1,64}$/u;

/** Longest `requested_expiry` Auth0 accepts (72 h); providers may allow less. */
export const MAX_REQUESTED_EXPIRY_SECONDS = 259_200;

/**
 * One RFC 9396 authorization details object. `type` is required; every other member is kept as given
 * (each type defines its own fields, e.g. `payment_initiation`'s `instructedAmount`).
 */
export const AuthorizationDetailSchema = z.looseObject({
  type: z.string().min(1, 'every authorization_details entry needs a non-empty string "type"'),
});
export type AuthorizationDetail = z.infer<typeof AuthorizationDetailSchema>;

export const AuthorizationDetailsSchema = z
  .array(AuthorizationDetailSchema, { error: 'authorizationDetails must be an array of objects, each with a "type"' })
  .min(1, 'authorizationDetails, when given, must hold at least one entry');

/** Space-separated OAuth scope; `openid` is added when missing (CIBA requires it). */
const ScopeSchema = z
  .string()
  .trim()
  .regex(/^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/, 'scope must be space-separated scope tokens')
  .transform(withOpenIdScope);

export function withOpenIdScope(scope: string): string {
  const tokens = scope.split(' ').filter(Boolean);
  return tokens.includes('openid') ? tokens.join(' ') : ['openid', ...tokens].join(' ');
}

const NonEmpty = z.string().trim().min(1);

const DURATION_UNITS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;
/** A duration as whole seconds, or a string such as "90s", "15m", "24h", "3d"; normalised to seconds. */
const DurationSeconds = z
  .union([
    z.number().int().min(0),
    z
      .string()
      .regex(/^\d+[smhd]$/, 'a duration is whole seconds or a string such as "90s", "15m", "24h", "3d"')
      .transform((v) => Number(v.slice(0, -1)) * DURATION_UNITS[v.slice(-1) as keyof typeof DURATION_UNITS]),
  ])
  .pipe(z.number());

export const MAX_APPROVAL_TIMEOUT_SECONDS = 30 * 86_400;
export const DEFAULT_APPROVAL_TIMEOUT_SECONDS = 86_400;

/** When a provider request expires (or its token response was lost) before the approval deadline: ask again. */
export const AskAgainPolicySchema = z.strictObject({
  /** How many backchannel requests the user may get in all, the first included. 1 = never ask again. */
  maxAsks: z.number().int().min(1).max(10_000).default(3),
  /** How long to wait after a request expired before asking again. */
  delayBetweenAsks: DurationSeconds.default(60),
});
export type AskAgainPolicy = z.output<typeof AskAgainPolicySchema>;

/**
 * What an agent asks for. Exactly one of `loginHint`, `loginHintToken`, `idTokenHint` identifies the user.
 * Client credentials are never part of this: they live in the worker's environment.
 */
export const ApprovalRequestSchema = z
  .strictObject({
    /** A user identifier the provider understands (Auth0: an `iss_sub` JSON string; local provider: also an e-mail). */
    loginHint: NonEmpty.optional(),
    loginHintToken: NonEmpty.optional(),
    idTokenHint: NonEmpty.optional(),
    /** Defaults to `openid`; `openid` is added when missing. */
    scope: ScopeSchema.default('openid'),
    /** Shown to the user on the authentication device and in the client, so they can tell the two belong together. */
    bindingMessage: z
      .string()
      .regex(
        BINDING_MESSAGE_PATTERN,
        'bindingMessage must be 1 to 64 characters of letters, digits, spaces and + - _ . , : #',
      ),
    /** RFC 9396 Rich Authorization Request: the exact transaction the user approves. */
    authorizationDetails: AuthorizationDetailsSchema.optional(),
    /** The API the access token is for (Auth0's `audience`). */
    audience: NonEmpty.optional(),
    /** How long the user has to decide, in seconds (provider default when absent; Auth0: 300). */
    requestedExpiry: z.number().int().min(1).max(MAX_REQUESTED_EXPIRY_SECONDS).optional(),
    acrValues: z.array(NonEmpty).min(1).optional(),
    /** The approval's own deadline, however often the provider's requests expire: default 24 h, at most 30 days. */
    approvalTimeout: DurationSeconds.refine((s) => s >= 1 && s <= MAX_APPROVAL_TIMEOUT_SECONDS, {
      message: 'approvalTimeout must be between 1 second and 30 days',
    }).default(DEFAULT_APPROVAL_TIMEOUT_SECONDS),
    askAgain: AskAgainPolicySchema.default({ maxAsks: 3, delayBetweenAsks: 60 }),
    /** Continue-as-new once the run's history has this many events (keeps any wait's history bounded). */
    continueAsNewAfterEvents: z.number().int().min(30).max(40_000).default(2_000),
  })
  .superRefine((request, ctx) => {
    const hints = (['loginHint', 'loginHintToken', 'idTokenHint'] as const).filter((k) => request[k] !== undefined);
    if (hints.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: hints.length === 0 ? ['loginHint'] : [],
        message:
          hints.length === 0
            ? 'one of loginHint, loginHintToken or idTokenHint is required'
            : `exactly one of loginHint, loginHintToken or idTokenHint is allowed, got ${hints.join(' and ')}`,
      });
    }
  });

/** What callers pass (defaults not applied yet). */
export type ApprovalRequestInput = z.input<typeof ApprovalRequestSchema>;
/** A validated, normalised request (scope contains `openid`). */
export type ApprovalRequest = z.output<typeof ApprovalRequestSchema>;

/** The tokens an approved request yields. Lives only in (encrypted) payloads, never in search attributes or logs. */
export interface ApprovalResult {
  tokenType: string;
  accessToken: string;
  idToken?: string;
  refreshToken?: string;
  /** Access token lifetime in seconds, as the provider reported it. */
  expiresIn?: number;
  scope?: string;
  /** What the provider granted (RFC 9396), which may differ from what was asked. */
  authorizationDetails?: AuthorizationDetail[];
  /** When the approving token response was received (ISO 8601, workflow time). */
  approvedAt: string;
}

/**
 * Failure types (ApplicationFailure.type) an approval can end with. A parent workflow sees them as the
 * `cause` of a ChildWorkflowFailure; a client as the `cause` of a WorkflowFailedError.
 */
export const ApprovalFailureType = {
  /** The user denied the request. */
  Denied: 'ApprovalDenied',
  /** The agent cancelled the approval (the workflow ends cancelled; clients and helpers report this type). */
  Cancelled: 'ApprovalCancelled',
  /** The request expired before the user decided. */
  Expired: 'ApprovalExpired',
  /**
   * The provider no longer knows the auth_req_id before it expired (invalid_grant): most likely a token response
   * was lost in flight and the provider revoked those tokens when it saw the id again. The user must be asked again.
   */
  Lost: 'ApprovalLost',
  /** The provider rejected the backchannel authentication request (details: provider error code and description). */
  ProviderRejected: 'CibaProviderError',
  /** The initiation request may or may not have reached the provider; it is not sent again automatically. */
  InitiationUncertain: 'ApprovalInitiationUncertain',
  /** The provider answered something that is not valid OAuth/CIBA. */
  InvalidProviderResponse: 'InvalidProviderResponse',
  /** The approval request itself is invalid. */
  InvalidRequest: 'InvalidApprovalRequest',
  /** The initiation could not reach the provider in several attempts (it certainly did not notify the user). */
  ProviderUnavailable: 'ProviderUnavailable',
  /**
   * The user approved, but the provider did not grant the authorization_details that were asked for (it ignored
   * RAR, or granted something else): the tokens are not bound to this transaction and never reach the agent.
   * details[0] = { requested, granted }.
   */
  AuthorizationDetailsNotGranted: 'AuthorizationDetailsNotGranted',
  /** The workflow's input was not encrypted with the payload key: only key holders may start approvals. */
  PayloadNotEncrypted: 'PayloadNotEncrypted',
  /** The workflow's input was encrypted with a payload key this worker does not have (message names the key id). */
  PayloadKeyMismatch: 'PayloadKeyMismatch',
} as const;
export type ApprovalFailureType = (typeof ApprovalFailureType)[keyof typeof ApprovalFailureType];

/** Failure types between activities and the approval workflow (an approval ends with ProviderUnavailable only). */
export const ActivityFailureType = {
  /** The initiation request certainly did not reach the provider (no connection, or HTTP 429/503): safe to send again. */
  InitiationNotSent: 'InitiationNotSent',
  /** A transient fault at the provider (5xx, 429, timeout, reset); polls are retried by the retry policy. */
  ProviderUnavailable: 'ProviderUnavailable',
} as const;

/** Details attached to failures that come from the provider's own error response. */
export interface ProviderErrorDetails {
  error: string;
  errorDescription?: string;
  status?: number;
}

/** Where an approval stands (also the `CibaApprovalStatus` search attribute). */
export type ApprovalStatus = 'initiating' | 'pending' | 'approved' | 'denied' | 'expired' | 'failed' | 'cancelled';

/** Why a backchannel request was sent. */
export type AskReason =
  | 'first'
  /** The previous request expired without a decision. */
  | 'expired'
  /** The previous request's token response was lost (invalid_grant before expiry; those tokens are revoked). */
  | 'lost_token_response';

/** One backchannel request the user got. */
export interface ApprovalAttempt {
  attempt: number;
  reason: AskReason;
  /** When it was sent (ISO 8601). */
  requestedAt: string;
  authReqId?: string;
  /** When the provider's auth_req_id expires (ISO 8601). */
  expiresAt?: string;
  /** How it ended: approved, denied, expired or lost_token_response (absent while pending). */
  outcome?: string;
}

/** Answer of the approval workflow's `status` query. Contains no token. */
export interface ApprovalState {
  status: ApprovalStatus;
  bindingMessage: string;
  /** The approval's own deadline (ISO 8601). */
  approvalDeadline: string;
  /** How many backchannel requests the user got. */
  asks: number;
  /** The latest backchannel requests (up to 20), oldest first. */
  attempts: ApprovalAttempt[];
  /** How many times this approval continued as new (its history is bounded per run). */
  continuedAsNew: number;
  /** The current request's auth_req_id. */
  authReqId?: string;
  /** When the current provider request expires (ISO 8601). */
  expiresAt?: string;
  /** Current polling interval in seconds. */
  intervalSeconds?: number;
  polls: number;
  slowDowns: number;
  lastPollAt?: string;
  lastPollOutcome?: string;
  failure?: { type: ApprovalFailureType; message: string };
}

export function formatZodError(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

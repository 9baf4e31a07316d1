/**
 * The approval request and its result: the contract between agents, the client library, the CLI and the
 * approval workflow. Validated with zod at the client (before any workflow starts) and again inside the
 * workflow (histories outlive clients).
 *
 * This file is imported by workflow code: keep it deterministic (zod only, no I/O, no Node APIs).
 */
import { z } from 'zod';
import type { ApprovalFailureType, ApprovalStatus } from './outcomes';
import { authorizationDetailsProblem, PROVIDER_PROFILES, type AuthorizationDetailsLimits } from './provider-profile';
import { unsafeTextInJson, unsafeTextProblem } from './safe-text';
import { StartSealSchema } from './start-seal';
import { AuthorizationDetailSchema } from './authorization-detail';

/** Auth0's binding_message rule (the local provider's): at most 64 characters of letters, digits, spaces and `+-_.,:#`. */
export const BINDING_MESSAGE_PATTERN = /^[\p{L}\p{N} +\-_.,:#]{1,64}$/u;

/** How an approval waits for the user's decision: see `pollingMode` below. */
export const POLLING_MODES = ['timer', 'compact'] as const;
export type PollingMode = (typeof POLLING_MODES)[number];

/** Longest `requested_expiry` Auth0 accepts (72 h); providers may allow less. */
export const MAX_REQUESTED_EXPIRY_SECONDS = 259_200;

/**
 * Shortest `requestedExpiry`: 10 s. Below it the user has no time to unlock a device and read the request (two polls at
 * CIBA's default 5 s interval), and an ask that expires before it can be read only teaches the user to approve blindly
 * or makes them be asked again. Not enforced for approvals started before the rule ({@link legacyApprovalRequestSchema}).
 */
export const MIN_REQUESTED_EXPIRY_SECONDS = 10;

/**
 * Most asks in one approval, the first included: 10. Every ask notifies the user, and asking again and again is how
 * MFA-fatigue attacks work: at 5 minutes per ask and the default 60 s between asks, 10 asks cover about an hour. A
 * longer wait takes a longer `requestedExpiry` or `delayBetweenAsks`, not more asks.
 */
export const MAX_ASKS = 10;

/**
 * Shortest `askAgain.delayBetweenAsks`: 5 s, CIBA's default polling interval (Core 7.3): no new ask comes sooner after
 * the last one ended than a client may poll. The default stays 60 s.
 */
export const MIN_DELAY_BETWEEN_ASKS_SECONDS = 5;

/**
 * Longest `loginHint`: 512 characters. An e-mail address is at most 254 (RFC 5321's path limit); Auth0's `iss_sub`
 * JSON is an issuer URL and a user id of a few dozen characters each. 512 holds either with room to spare, and keeps a
 * hint from carrying anything else.
 */
export const MAX_LOGIN_HINT_LENGTH = 512;

/**
 * Longest `loginHintToken` and `idTokenHint`: 8192 characters. Both are JWTs (an ID token with the usual claims is 1 to
 * 2 KB, an encrypted one a few KB); 8 KB is what common web servers accept for a whole request line or header, so a
 * longer token would not reach many providers anyway, and the request stays small in every history that carries it.
 */
export const MAX_HINT_TOKEN_LENGTH = 8_192;

/**
 * Longest `audience`: 2048 characters. It is a URI (Auth0: the API identifier); 2 KB is the length URLs are expected
 * to stay within to pass browsers, proxies and logs intact.
 */
export const MAX_AUDIENCE_LENGTH = 2_048;

/**
 * Longest `acrValues` entry: 256 characters; at most 10 entries. An ACR is a short name or a URN
 * (`urn:mace:incommon:iap:silver`, `http://schemas.openid.net/pape/policies/2007/06/multi-factor`); a client lists a
 * few acceptable ones in order of preference, never dozens.
 */
export const MAX_ACR_VALUE_LENGTH = 256;
export const MAX_ACR_VALUES = 10;

/**
 * Longest `scope`: 1024 characters, room for dozens of scope tokens (`openid payments:write offline_access`). Scopes
 * are names the provider defines, never data.
 */
export const MAX_SCOPE_LENGTH = 1_024;

/**
 * Which rules a schema applies. `current`: every rule. `legacy`: the rules before safe text (common/safe-text.ts),
 * length limits and ask bounds, for approvals that were started under them (their histories must replay).
 */
type RuleSet = 'current' | 'legacy';

export { AuthorizationDetailSchema, type AuthorizationDetail } from './authorization-detail';

/**
 * Limits for every provider, far above any provider's own (see provider-profile.ts): they keep a request (and the
 * workflow history that carries it) small whatever the profile.
 */
export const AUTHORIZATION_DETAILS_HARD_LIMITS: AuthorizationDetailsLimits = {
  maxBytes: 65_536,
  maxEntries: 100,
  maxProperties: 200,
  maxStringLength: 8_192,
  maxDepth: 16,
};

/**
 * The request's `authorizationDetails`: JSON only, within {@link AUTHORIZATION_DETAILS_HARD_LIMITS}, and (current
 * rules) safe text in every member name and string value at every depth (common/safe-text.ts): what the user's device
 * shows must be what the token grants.
 */
function authorizationDetailsSchema(rules: RuleSet) {
  return z
    .array(AuthorizationDetailSchema, { error: 'authorizationDetails must be an array of objects, each with a "type"' })
    .min(1, 'authorizationDetails, when given, must hold at least one entry')
    .superRefine((details, ctx) => {
      const notJson = nonJsonValue(details, 'authorizationDetails', 0);
      const problem =
        notJson ??
        authorizationDetailsProblem(details, AUTHORIZATION_DETAILS_HARD_LIMITS) ??
        (rules === 'current' ? unsafeTextInJson(details, 'authorizationDetails') : undefined);
      if (problem) ctx.addIssue({ code: 'custom', message: problem, abort: true });
    });
}
export const AuthorizationDetailsSchema = authorizationDetailsSchema('current');

/** Where `value` holds something that JSON cannot carry as it is (functions, undefined, NaN, BigInt, Dates, cycles). */
function nonJsonValue(value: unknown, path: string, depth: number): string | undefined {
  if (depth > AUTHORIZATION_DETAILS_HARD_LIMITS.maxDepth) {
    return `${path} is nested more than ${AUTHORIZATION_DETAILS_HARD_LIMITS.maxDepth} levels deep`;
  }
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined;
  if (typeof value === 'number')
    return Number.isFinite(value) ? undefined : `${path} is ${value}, which JSON cannot carry`;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = nonJsonValue(value[i], `${path}[${i}]`, depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [key, child] of Object.entries(value)) {
      const problem = nonJsonValue(child, `${path}.${key}`, depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  if (value === undefined) return `${path} is undefined, which JSON cannot carry`;
  const kind = typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
  return `${path} is a ${kind}: authorization details must be plain JSON (objects, arrays, strings, numbers, booleans, null)`;
}

/** Space-separated OAuth scope; `openid` is added when missing (CIBA requires it). */
function scopeSchema(rules: RuleSet) {
  const scope = z.string().trim();
  return (rules === 'current' ? scope.max(MAX_SCOPE_LENGTH) : scope)
    .regex(/^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/, 'scope must be space-separated scope tokens')
    .transform(withOpenIdScope);
}

export function withOpenIdScope(scope: string): string {
  const tokens = scope.split(' ').filter(Boolean);
  return tokens.includes('openid') ? tokens.join(' ') : ['openid', ...tokens].join(' ');
}

const NonEmpty = z.string().trim().min(1);

/** A non-empty string of at most `max` characters (current rules; legacy rules: no limit). */
function nonEmpty(rules: RuleSet, max: number) {
  return rules === 'current' ? NonEmpty.max(max) : NonEmpty;
}

/**
 * A user identifier. Auth0's `iss_sub` form is a JSON object as a string: when a hint looks like JSON, it must be
 * exactly that, so that a broken one is refused here instead of being sent to the provider.
 */
const loginHintSchema = (rules: RuleSet) =>
  nonEmpty(rules, MAX_LOGIN_HINT_LENGTH).superRefine((hint, ctx) => {
    if (!hint.startsWith('{')) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(hint);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'loginHint starts with "{" but is not valid JSON' });
      return;
    }
    const ok = z
      .strictObject({ format: z.literal('iss_sub'), iss: z.url(), sub: z.string().trim().min(1) })
      .safeParse(parsed).success;
    if (!ok) {
      ctx.addIssue({
        code: 'custom',
        message: 'a JSON loginHint must be {"format":"iss_sub","iss":"<issuer URL>","sub":"<user id>"}',
      });
    }
  });

const DURATION_UNITS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;
const DURATION_RULE = 'whole seconds (a number) or a whole number with s, m, h or d, such as "90s", "15m", "24h", "3d"';
/** A duration as whole seconds, or a string such as "90s", "15m", "24h", "3d"; normalised to seconds. */
const notDuration = (issue: { input?: unknown }) =>
  `${JSON.stringify(issue.input) ?? String(issue.input)} is not a duration: use ${DURATION_RULE}`;
const DurationSeconds = z
  .union(
    [
      z.int({ error: notDuration }).min(0, { error: notDuration }),
      z.string({ error: notDuration }).regex(/^\s*\d{1,9}[smhd]\s*$/, { error: notDuration }),
    ],
    { error: notDuration },
  )
  .transform((value): number => {
    if (typeof value === 'number') return value;
    const match = /^(\d{1,9})([smhd])$/.exec(value.trim())!;
    return Number(match[1]) * DURATION_UNITS[match[2] as keyof typeof DURATION_UNITS];
  })
  .meta({ description: `A duration: ${DURATION_RULE}.` });

export const MAX_APPROVAL_TIMEOUT_SECONDS = 30 * 86_400;
export const DEFAULT_APPROVAL_TIMEOUT_SECONDS = 86_400;

/** `delayBetweenAsks` under the current rules: at least {@link MIN_DELAY_BETWEEN_ASKS_SECONDS}. */
const DelayBetweenAsks = DurationSeconds.refine((seconds) => seconds >= MIN_DELAY_BETWEEN_ASKS_SECONDS, {
  message: `askAgain.delayBetweenAsks must be at least ${MIN_DELAY_BETWEEN_ASKS_SECONDS} seconds (CIBA's default polling interval)`,
}).meta({
  description: `A duration: ${DURATION_RULE}. At least ${MIN_DELAY_BETWEEN_ASKS_SECONDS} seconds.`,
  minimum: MIN_DELAY_BETWEEN_ASKS_SECONDS,
});

/** When an ask expires (or its final answer was lost) before the approval deadline: ask again. */
const askAgainPolicySchema = (rules: RuleSet) =>
  z.strictObject({
    /**
     * How many times the user may be asked in all, the first ask included (at most {@link MAX_ASKS}). 1 = never ask
     * again.
     */
    maxAsks: (rules === 'current'
      ? z
          .number()
          .int()
          .min(1)
          .max(MAX_ASKS, {
            error: `askAgain.maxAsks must be at most ${MAX_ASKS}: every ask notifies the user (wait longer with requestedExpiry or delayBetweenAsks instead)`,
          })
      : z.number().int().min(1).max(10_000)
    ).default(3),
    /** How long to wait after an ask expired before asking again (at least {@link MIN_DELAY_BETWEEN_ASKS_SECONDS}). */
    delayBetweenAsks: (rules === 'current' ? DelayBetweenAsks : DurationSeconds).default(60),
    /**
     * Ask again when an ask's final answer was lost (the provider answered `invalid_grant` before expiry: a token
     * response or a denial never reached the worker). Off by default: the lost answer may have been a denial, and a
     * user who said no is not asked again behind their back. When on, the repeat's binding message is marked as one.
     */
    afterLostAnswer: z.boolean().default(false),
  });
export const AskAgainPolicySchema = askAgainPolicySchema('current');
export type AskAgainPolicy = z.output<typeof AskAgainPolicySchema>;

/** The binding message: the generic profile's rule, and (current rules) safe text, named character by character. */
function bindingMessageSchema(rules: RuleSet) {
  const text = z.string();
  return (
    rules === 'current'
      ? text.check((ctx) => {
          const problem = unsafeTextProblem(ctx.value, 'bindingMessage');
          if (problem) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value, continue: false });
        })
      : text
  ).regex(
    PROVIDER_PROFILES.generic.bindingMessage.pattern,
    `bindingMessage must be ${PROVIDER_PROFILES.generic.bindingMessage.rule} (the provider's profile may allow less)`,
  );
}

function requestedExpirySchema(rules: RuleSet) {
  const seconds = z.number().int();
  return (
    rules === 'current'
      ? seconds.min(MIN_REQUESTED_EXPIRY_SECONDS, {
          error: `requestedExpiry must be at least ${MIN_REQUESTED_EXPIRY_SECONDS} seconds, time for the user to read the request`,
        })
      : seconds.min(1)
  )
    .max(MAX_REQUESTED_EXPIRY_SECONDS)
    .optional();
}

function acrValuesSchema(rules: RuleSet) {
  return (
    rules === 'current'
      ? z.array(nonEmpty(rules, MAX_ACR_VALUE_LENGTH)).min(1).max(MAX_ACR_VALUES)
      : z.array(NonEmpty).min(1)
  ).optional();
}

/**
 * What an agent asks for. Exactly one of `loginHint`, `loginHintToken`, `idTokenHint` identifies the user.
 * Client credentials are never part of this: they live in the worker's environment.
 */
export const ApprovalRequestSchema = z
  .strictObject({
    /**
     * A user identifier the provider understands (Auth0: an `iss_sub` JSON string; local provider: also an e-mail).
     * At most {@link MAX_LOGIN_HINT_LENGTH} characters.
     */
    loginHint: loginHintSchema('current').optional(),
    /** At most {@link MAX_HINT_TOKEN_LENGTH} characters. */
    loginHintToken: nonEmpty('current', MAX_HINT_TOKEN_LENGTH).optional(),
    /** At most {@link MAX_HINT_TOKEN_LENGTH} characters. */
    idTokenHint: nonEmpty('current', MAX_HINT_TOKEN_LENGTH).optional(),
    /** Defaults to `openid`; `openid` is added when missing. At most {@link MAX_SCOPE_LENGTH} characters. */
    scope: scopeSchema('current').default('openid'),
    /**
     * Shown to the user on the authentication device and in the client, so they can tell the two belong together.
     * Safe text (common/safe-text.ts): no bidi control, zero-width, format or control character.
     */
    bindingMessage: bindingMessageSchema('current'),
    /**
     * RFC 9396 Rich Authorization Request: the exact transaction the user approves. Safe text in every member name and
     * string value (common/safe-text.ts).
     */
    authorizationDetails: AuthorizationDetailsSchema.optional(),
    /** The API the access token is for (Auth0's `audience`). At most {@link MAX_AUDIENCE_LENGTH} characters. */
    audience: nonEmpty('current', MAX_AUDIENCE_LENGTH).optional(),
    /**
     * How long the user has to decide, in seconds: {@link MIN_REQUESTED_EXPIRY_SECONDS} to
     * {@link MAX_REQUESTED_EXPIRY_SECONDS} (provider default when absent; Auth0: 300).
     */
    requestedExpiry: requestedExpirySchema('current'),
    /** At most {@link MAX_ACR_VALUES} entries of at most {@link MAX_ACR_VALUE_LENGTH} characters each. */
    acrValues: acrValuesSchema('current'),
    /** The approval's own deadline, however often asks expire: default 24 h, at most 30 days. */
    approvalTimeout: DurationSeconds.refine((seconds) => seconds >= 1 && seconds <= MAX_APPROVAL_TIMEOUT_SECONDS, {
      message: 'approvalTimeout must be between 1 second and 30 days',
    }).default(DEFAULT_APPROVAL_TIMEOUT_SECONDS),
    askAgain: AskAgainPolicySchema.default({ maxAsks: 3, delayBetweenAsks: 60, afterLostAnswer: false }),
    /**
     * When authorizationDetails were requested and the provider's answer grants none (neither in the token response
     * nor in a JWT access token): `fail` (default) ends the approval AuthorizationDetailsNotGranted, since the tokens
     * are not bound to the transaction; `accept` is for providers without RAR (e.g. Keycloak), where the binding
     * message alone tells the user what they approve. Granted details that differ from the requested ones always fail.
     */
    ungrantedAuthorizationDetails: z.enum(['fail', 'accept']).default('fail'),
    /**
     * How the approval waits for the user (default: the worker's CIBA_POLLING_MODE, itself `timer` by default).
     * `timer`: a durable timer and one activity per poll, each visible in the history and the UI. `compact`: one
     * long-running activity per ask polls inside the worker and heartbeats its progress: a fraction of the cost per
     * poll, for fleets of long waits (README: Polling modes).
     */
    pollingMode: z.enum(POLLING_MODES).optional(),
    /** Continue-as-new once the run's history has this many events (keeps any wait's history bounded). */
    continueAsNewAfterEvents: z.number().int().min(30).max(40_000).default(2_000),
    /**
     * Binds the input to the one workflow it was made for, once (common/start-seal.ts). ApprovalClient,
     * `requestApproval`, the HTTP API, the CLI and the Python package add it; a new approval without it is refused.
     */
    seal: StartSealSchema.optional(),
  })
  .superRefine((request, ctx) => {
    const hints = (['loginHint', 'loginHintToken', 'idTokenHint'] as const).filter(
      (hint) => request[hint] !== undefined,
    );
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

/**
 * The request schema with the rules of approvals started before safe text, length limits and ask bounds: no safe-text
 * check, no length limits, `maxAsks` up to 10,000, any `delayBetweenAsks`, `requestedExpiry` from 1 s. For the
 * workflow's `validate` of runs without the patch marker, so that their histories replay as recorded. Built on first
 * use, then kept (building a zod schema costs CPU in every workflow context that builds it).
 */
export function legacyApprovalRequestSchema(): LegacyApprovalRequestSchema {
  legacySchema ??= ApprovalRequestSchema.safeExtend({
    loginHint: loginHintSchema('legacy').optional(),
    loginHintToken: nonEmpty('legacy', MAX_HINT_TOKEN_LENGTH).optional(),
    idTokenHint: nonEmpty('legacy', MAX_HINT_TOKEN_LENGTH).optional(),
    scope: scopeSchema('legacy').default('openid'),
    bindingMessage: bindingMessageSchema('legacy'),
    authorizationDetails: authorizationDetailsSchema('legacy').optional(),
    audience: nonEmpty('legacy', MAX_AUDIENCE_LENGTH).optional(),
    requestedExpiry: requestedExpirySchema('legacy'),
    acrValues: acrValuesSchema('legacy'),
    askAgain: askAgainPolicySchema('legacy').default({ maxAsks: 3, delayBetweenAsks: 60, afterLostAnswer: false }),
  });
  return legacySchema;
}
/** {@link legacyApprovalRequestSchema}'s schema: the same input and output types as {@link ApprovalRequestSchema}. */
export type LegacyApprovalRequestSchema = z.ZodType<ApprovalRequest, ApprovalRequestInput>;
let legacySchema: LegacyApprovalRequestSchema | undefined;

/** What callers pass (defaults not applied yet). */
export type ApprovalRequestInput = z.input<typeof ApprovalRequestSchema>;
/** A validated, normalised request (scope contains `openid`). */
export type ApprovalRequest = z.output<typeof ApprovalRequestSchema>;

/** The tokens an approval hands back: its schema is ApprovalResultSchema (common/approval-result.ts). */
export type { ApprovalResult } from './approval-result';

/** Details attached to failures that come from the provider's own error response. */
export interface ProviderErrorDetails {
  /** The provider's own error code. */
  error: string;
  errorDescription?: string;
  status?: number;
  /**
   * The error in CIBA Core 13's words, where the provider's profile knows that it names it otherwise (Keycloak's
   * invalid_request "invalid_user" is `unknown_user_id`); otherwise the same as `error`.
   */
  cibaError?: string;
}

/** Why a backchannel request was sent: an ask's reason. */
export type AskReason =
  | 'first'
  /** The previous ask expired without a decision. */
  | 'expired'
  /** The previous ask's final answer was lost (invalid_grant before expiry; tokens it issued are revoked). */
  | 'lost_token_response';

/** How an ask ended: the user's answer, or why it brought none. */
export type AskOutcome = 'approved' | 'not_granted' | 'denied' | 'expired' | 'lost_token_response';

/** One ask: a backchannel request the user got (one auth_req_id at the provider). */
export interface Ask {
  /** 1 for the first ask of the approval, 2 for the next, ... */
  number: number;
  reason: AskReason;
  /** When it was sent (ISO 8601). */
  askedAt: string;
  authReqId?: string;
  /** When the provider's auth_req_id expires (ISO 8601). */
  expiresAt?: string;
  /** Absent while the ask is pending. */
  outcome?: AskOutcome;
}

/** The failure an approval ended with, as the status query reports it. */
export interface ApprovalFailureInfo {
  type: ApprovalFailureType;
  message: string;
}

/** Answer of the approval workflow's `status` query (and of `ciba status --json`). Contains no token. */
export interface ApprovalState {
  status: ApprovalStatus;
  bindingMessage: string;
  /** The approval's own deadline (ISO 8601). */
  approvalDeadline: string;
  /** How many times the user was asked. */
  askCount: number;
  /** The latest asks (up to 20), oldest first. */
  asks: Ask[];
  /** How many times this approval continued as new (its history is bounded per run). */
  continuedAsNew: number;
  /** The current ask's auth_req_id. */
  authReqId?: string;
  /** When the current ask expires at the provider (ISO 8601). */
  expiresAt?: string;
  /** Current polling interval in seconds. */
  intervalSeconds?: number;
  polls: number;
  slowDowns: number;
  lastPollAt?: string;
  lastPollOutcome?: string;
  failure?: ApprovalFailureInfo;
}

export function formatZodError(error: z.ZodError): string {
  return error.issues
    .map((issue) => (issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}

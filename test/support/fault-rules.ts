/**
 * The faults the proxy (fault-proxy.ts) can inject, and the rules that say which request gets one:
 * `proxy.failNext({ endpoint: 'token', fault: { kind: 'status', status: 503 }, times: 2 })`. The first rule (oldest
 * first) that matches a request and has uses left applies to it; requests no rule matches are forwarded untouched.
 */

export type Endpoint = 'discovery' | 'bc-authorize' | 'token' | 'other';

export type Fault =
  /**
   * Answer with this HTTP status instead of the provider. `body`: 'html' (an error page), 'json' (an OAuth error
   * object), or a literal string. `forward: true` first lets the provider process the request (and throws its answer
   * away): "the provider did it, then the answer was replaced on the way back".
   */
  | { kind: 'status'; status: number; body?: 'html' | 'json' | string; retryAfter?: number | string; forward?: boolean }
  /** Reset the connection before forwarding: the provider never sees the request. */
  | { kind: 'reset' }
  /** Never answer, never forward: the client times out. */
  | { kind: 'no-answer' }
  /** HTTP 200, content-type application/json, a body that is not JSON. */
  | { kind: 'malformed-json'; forward?: boolean }
  /** HTTP 200 with an HTML error page (a gateway's maintenance page). */
  | { kind: 'html-200'; forward?: boolean }
  /**
   * Forward, then edit the provider's JSON answer: remove members (a token response without access_token) and set
   * others (a token_type no client supports).
   */
  | { kind: 'edit-json'; remove?: string[]; set?: Record<string, unknown> }
  /**
   * Hold the request until the client has given up on it (closed the connection: its timeout), then forward it: the
   * provider gets the request, late, and the client never gets the answer, however late its timeout fires.
   */
  | { kind: 'forward-after-client-gone' }
  /** Forward; the provider processes the request; the client gets a connection reset instead of the answer. */
  | { kind: 'drop-response' }
  /** Forward; send the answer's headers and half its body, then reset the connection. */
  | { kind: 'truncate-body' }
  /** Hold the request until the test decides (`held.forward()` or `held.drop()`); see waitForHeld. */
  | { kind: 'hold' }
  /** Forward, then hold the provider's answer until the test decides (`held.deliver()` or `held.drop()`). */
  | { kind: 'hold-response' }
  /**
   * Forward and answer this request with `Connection: close`, then refuse connections (nothing listens on the port):
   * the client's next request fails with ECONNREFUSED. For `downMs`; without it, until the test calls `proxy.up()`
   * (or `reset()`), e.g. once it has seen the refused attempt.
   */
  | { kind: 'go-down-after'; downMs?: number };

export type FaultKind = Fault['kind'];

/** What a rule can look at to decide whether it applies. */
export interface ProxiedRequest {
  endpoint: Endpoint;
  method: string;
  path: string;
  /** The form body (empty for GET). Holds no client secret with client_secret_basic. */
  form: URLSearchParams;
}

export interface FaultRule {
  endpoint: Endpoint | 'any';
  fault: Fault;
  /** How many requests this rule applies to (default 1; Infinity for all). */
  times?: number;
  /** Further condition on the request, e.g. its binding message. */
  match?: (request: ProxiedRequest) => boolean;
  /**
   * Forwarding faults only (edit-json, drop-response, truncate-body, hold-response): apply only when the provider
   * answered this status (200: tokens were issued); otherwise the answer passes through and the rule stays armed.
   */
  onlyIfStatus?: number;
  /** Like onlyIfStatus, for the OAuth `error` of the provider's JSON answer (access_denied: the user denied). */
  onlyIfError?: string;
}

/** What the test holds of a rule it armed. */
export interface ArmedRule {
  readonly rule: FaultRule;
  /** How many requests it applied to so far. */
  readonly applied: number;
  readonly remaining: number;
}

/** A rule in the proxy, with its count of uses. */
export interface RuleInUse {
  rule: FaultRule;
  applied: number;
}

/** The rules armed on one proxy, oldest first. */
export class FaultRules {
  private readonly rules: RuleInUse[] = [];

  /** Arms a rule (after those armed before). */
  arm(rule: FaultRule): ArmedRule {
    const inUse = { rule, applied: 0 };
    this.rules.push(inUse);
    return {
      rule,
      get applied() {
        return inUse.applied;
      },
      get remaining() {
        return (rule.times ?? 1) - inUse.applied;
      },
    };
  }

  /** The oldest rule with uses left that matches `request`. */
  find(request: ProxiedRequest): RuleInUse | undefined {
    return this.rules.find(
      ({ rule, applied }) =>
        applied < (rule.times ?? 1) &&
        (rule.endpoint === 'any' || rule.endpoint === request.endpoint) &&
        (rule.match?.(request) ?? true),
    );
  }

  clear(): void {
    this.rules.length = 0;
  }
}

/** Whether a forwarding fault applies to the provider's answer (onlyIfStatus, onlyIfError). */
export function appliesToAnswer(rule: FaultRule, answer: { status: number; body: Buffer }): boolean {
  if (rule.onlyIfStatus !== undefined && answer.status !== rule.onlyIfStatus) return false;
  if (rule.onlyIfError !== undefined && oauthError(answer.body) !== rule.onlyIfError) return false;
  return true;
}

export function endpointOf(method: string, pathname: string): Endpoint {
  if (method === 'GET' && pathname === '/.well-known/openid-configuration') return 'discovery';
  if (method === 'POST' && pathname === '/bc-authorize') return 'bc-authorize';
  if (method === 'POST' && pathname === '/oauth/token') return 'token';
  return 'other';
}

/** The `error` member of an OAuth JSON error answer, if it is one. */
function oauthError(body: Buffer): string | undefined {
  try {
    const json = JSON.parse(body.toString()) as { error?: unknown };
    return typeof json.error === 'string' ? json.error : undefined;
  } catch {
    return undefined;
  }
}

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import type Router from '@koa/router';
import type Provider from 'oidc-provider';
import { errors, type AdapterPayload, type AuthorizationDetail } from 'oidc-provider';

import type { IdpBehaviour } from './behaviour';
import { FileAdapter } from './file-adapter';
import type { FileStore } from './file-store';
import { notFound, sendError } from './http';
import { markNotified } from './pacing';
import { CODEC_RESOURCE_SCOPE, MCP_RESOURCE_SCOPE, OIDC_SCOPES, RESOURCE_SCOPE } from './provider';
import { revealUnsafe } from '../common/safe-text';
import { authorizationDetailView, describeAuthorizationDetail, textWarning, type AuthorizationDetailView } from './rar';
import { findUser } from './users';

const REQUEST_MODEL = 'BackchannelAuthenticationRequest';
const PROVIDER_SCOPES = new Set(OIDC_SCOPES);
const RESOURCE_SCOPES = new Set([...RESOURCE_SCOPE.split(' '), CODEC_RESOURCE_SCOPE, MCP_RESOURCE_SCOPE]);

/** Where a request stands: undecided, decided (by anyone, on any page), or expired undecided. */
export type DeviceRequestStatus = 'pending' | 'approved' | 'denied' | 'expired';

/** What the authentication device shows for one request. */
export interface DeviceRequestView {
  auth_req_id: string;
  client_id: string;
  user: string;
  login_hint: string | null;
  binding_message: string | null;
  /** What the reader must know about the binding message (it mixes scripts), shown beside it; else null. */
  binding_message_warning: string | null;
  authorization_details: AuthorizationDetail[] | null;
  /** Readable lines for authorization_details, e.g. "Pay 50.00 USD to ExampleCorp" (never JSON). */
  summary: string[];
  /**
   * Each authorization_details entry as the page shows it, every member of it: a known type's sentence and the members
   * it does not say, or the table of an unknown type's members.
   */
  details_view: AuthorizationDetailView[];
  scope: string;
  expires_at: string;
  status: DeviceRequestStatus;
}

/** What the authentication device shows for one undecided request. */
export type PendingRequestView = DeviceRequestView;

function parseDetails(raw: unknown): AuthorizationDetail[] | undefined {
  if (typeof raw !== 'string') return undefined;
  const parsed = JSON.parse(raw) as AuthorizationDetail[]; // validated at /bc-authorize (rar.ts)
  return parsed.length ? parsed : undefined;
}

/** A decision counts, whatever happened since (redeemed, expired); an undecided request past its expiry is expired. */
function statusOf(payload: AdapterPayload, nowS: number): DeviceRequestStatus {
  if (payload.grantId) return 'approved';
  if (payload.error || payload.consumed) return 'denied'; // consumed undecided: never happens (oidc-provider)
  return (payload.exp ?? 0) > nowS ? 'pending' : 'expired';
}

/**
 * The binding message as the page shows it, and what to tell the reader about it. /bc-authorize refuses invisible and
 * direction-changing characters (behaviour.ts); one in a request stored before that rule is written out, never shown.
 */
function bindingMessageView(raw: unknown): { text: string | null; warning: string | null } {
  if (typeof raw !== 'string') return { text: null, warning: null };
  return { text: revealUnsafe(raw), warning: textWarning(raw) ?? null };
}

function requestView(p: AdapterPayload, status: DeviceRequestStatus): DeviceRequestView {
  const details = parseDetails(p.params?.authorization_details);
  const bindingMessage = bindingMessageView(p.params?.binding_message);
  return {
    auth_req_id: p.jti!,
    client_id: p.clientId!,
    user: p.accountId!,
    login_hint: typeof p.params?.login_hint === 'string' ? p.params.login_hint : null,
    binding_message: bindingMessage.text,
    binding_message_warning: bindingMessage.warning,
    authorization_details: details ?? null,
    summary: (details ?? []).map(describeAuthorizationDetail),
    details_view: (details ?? []).map(authorizationDetailView),
    scope: p.scope ?? '',
    expires_at: new Date((p.exp ?? 0) * 1000).toISOString(),
    status,
  };
}

export interface ListRequestsOptions {
  /** A user's e-mail, name or sub: only their requests. Default: everyone's. */
  user?: string;
  /**
   * 'pending' (default): undecided and unexpired only. 'all': also the decided and expired ones the provider still
   * keeps (a request is kept until 15 s after its expiry), so a page can say what became of a request it showed.
   */
  status?: 'pending' | 'all';
}

/** The requests the device shows, oldest first. */
export function listRequests(
  store: FileStore,
  { user, status = 'pending' }: ListRequestsOptions = {},
): DeviceRequestView[] {
  const nowS = Date.now() / 1000;
  const sub = user === undefined ? undefined : (findUser(user)?.sub ?? user);
  return store
    .list<AdapterPayload>(FileAdapter.keyPrefix(REQUEST_MODEL))
    .map(([, p]) => p)
    .filter((p) => sub === undefined || p.accountId === sub)
    .sort((a, b) => (a.iat ?? 0) - (b.iat ?? 0))
    .map((p) => ({ p, now: statusOf(p, nowS) }))
    .filter(({ now }) => status === 'all' || now === 'pending')
    .map(({ p, now }) => requestView(p, now));
}

/** Pending = accepted by /bc-authorize, not yet approved/denied/redeemed, not expired. */
export function listPending(store: FileStore, user?: string): PendingRequestView[] {
  return listRequests(store, { user, status: 'pending' });
}

type Decision = 'approve' | 'deny';

/**
 * The user's decision. Approve stores a Grant with exactly what was asked (OIDC scopes, the API's scopes, the
 * authorization_details entries the behaviour grants: all for Auth0, none for Keycloak) and completes the request
 * with backchannelResult; deny completes it with access_denied. The client learns the outcome on its next poll.
 */
async function recordDecision(
  provider: Provider,
  store: FileStore,
  authReqId: string,
  decision: Decision,
  behaviour: IdpBehaviour,
  log: (line: string) => void,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const request = await provider.BackchannelAuthenticationRequest.find(authReqId, { ignoreExpiration: true });
  if (!request) return { status: 404, body: { error: 'not_found', error_description: 'unknown auth_req_id' } };
  // `status` tells a page what became of the request (decided on another page or device, or expired), so that it
  // can show that instead of an error. A decision made before the expiry is what the user meets, so it comes first.
  if (request.grantId || request.error || request.consumed) {
    const status = request.grantId ? 'approved' : 'denied';
    return {
      status: 409,
      body: { error: 'already_decided', error_description: `request already ${status}`, status },
    };
  }
  if (request.isExpired) {
    return { status: 409, body: { error: 'expired', error_description: 'request expired', status: 'expired' } };
  }

  let result: InstanceType<Provider['Grant']> | errors.AccessDenied;
  let rar: AuthorizationDetail[] | undefined;
  if (decision === 'approve') {
    const scopes = (request.scope ?? '').split(' ').filter(Boolean);
    const grant = new provider.Grant({ accountId: request.accountId!, clientId: request.clientId });
    grant.addOIDCScope(scopes.filter((s) => PROVIDER_SCOPES.has(s)));
    const resources = [request.resource ?? []].flat();
    for (const resource of resources)
      grant.addResourceScope(
        resource,
        scopes.filter((s) => RESOURCE_SCOPES.has(s)),
      );
    rar = behaviour.grantedAuthorizationDetails(parseDetails(request.params?.authorization_details));
    for (const detail of rar ?? []) grant.addRar(detail);
    await grant.save();
    result = grant;
  } else {
    result = new errors.AccessDenied('the user denied the request');
  }

  // Ping clients (CIBA Core 10.2): backchannelResult saves the result, then POSTs {auth_req_id} with the
  // client_notification_token as bearer to the client's notification endpoint.
  const ping = (await provider.Client.find(request.clientId!))?.backchannelTokenDeliveryMode === 'ping';
  if (ping) markNotified(store, authReqId);
  try {
    await provider.backchannelResult(request, result, { rar, authTime: Math.floor(Date.now() / 1000) });
    if (ping) log(`ping delivered to client ${request.clientId}`);
  } catch (err) {
    // The result is saved before the ping is sent: a failed ping does not undo the decision, the client learns it
    // on its next poll. Logged by client and cause only (no request, user or token data).
    const saved = await provider.BackchannelAuthenticationRequest.find(authReqId, { ignoreExpiration: true });
    if (!ping || (!saved?.grantId && !saved?.error)) throw err;
    log(`ping delivery failed for client ${request.clientId}: ${describeFailure(err)}; the client can still poll`);
  }
  log(`device: ${decision === 'approve' ? 'approved' : 'denied'} a request of ${request.accountId}`);
  return { status: 200, body: { status: decision === 'approve' ? 'approved' : 'denied' } };
}

/** An error's message and those of its causes (undici puts the reason, e.g. ECONNREFUSED, in `cause`). */
function describeFailure(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error && parts.length < 4; e = e.cause) parts.push(e.message);
  return parts.join(': ').slice(0, 500);
}

export interface DeviceRoutesOptions {
  provider: Provider;
  store: FileStore;
  behaviour: IdpBehaviour;
  log: (line: string) => void;
}

/**
 * DEV-ONLY: the simulated authentication device (GET /device, GET /device/requests, POST
 * /device/requests/:authReqId/approve|deny). No authentication: mount on a router guarded by crossSiteGuard
 * (browser-guard.ts), on loopback only.
 */
export function deviceRoutes(router: Router, { provider, store, behaviour, log }: DeviceRoutesOptions): void {
  const page = devicePage();
  router.get(['/device', '/device/'], (ctx) => {
    ctx.type = 'html';
    ctx.set('Content-Security-Policy', page.csp);
    ctx.body = page.html;
  });
  router.get('/device/requests', (ctx) => {
    const query = new URLSearchParams(ctx.querystring);
    const status = query.get('status') ?? 'pending';
    if (status !== 'pending' && status !== 'all') {
      sendError(ctx, 400, 'invalid_request', 'status must be pending or all');
      return;
    }
    ctx.body = listRequests(store, { user: query.get('user') ?? undefined, status });
  });
  // One decision at a time per request: of two clicks on two pages at once, the second sees the first's decision
  // (409 already_decided) instead of both passing the "still undecided" check.
  const deciding = new Map<string, Promise<unknown>>();
  for (const decision of ['approve', 'deny'] as const) {
    router.post(`/device/requests/:authReqId/${decision}`, async (ctx) => {
      ctx.req.resume(); // no body expected
      const authReqId = ctx.params.authReqId!;
      const before = deciding.get(authReqId) ?? Promise.resolve();
      const mine = before
        .catch(() => undefined)
        .then(() => recordDecision(provider, store, authReqId, decision, behaviour, log));
      deciding.set(authReqId, mine);
      try {
        const { status, body } = await mine;
        ctx.status = status;
        ctx.body = body;
      } finally {
        if (deciding.get(authReqId) === mine) deciding.delete(authReqId);
      }
    });
  }
  router.all('/device/{*rest}', notFound('no such device endpoint'));
}

/** views/device.html, the authentication device: a self-contained page (no external assets) polling every 2 s. */
function devicePage(): { html: string; csp: string } {
  const html = fs.readFileSync(path.join(__dirname, 'views', 'device.html'), 'utf8');
  return { html, csp: devicePageCsp(html) };
}

/**
 * The page's own script and style (by hash) and requests to its own origin, nothing else; never framed. Requests
 * show what clients sent (binding messages, authorization_details): even markup slipped into one cannot run.
 */
function devicePageCsp(html: string): string {
  const hash = (tag: string) => {
    const body = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(html)?.[1] ?? '';
    return `'sha256-${crypto.createHash('sha256').update(body).digest('base64')}'`;
  };
  return [
    "default-src 'none'",
    `script-src ${hash('script')}`,
    `style-src ${hash('style')}`,
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

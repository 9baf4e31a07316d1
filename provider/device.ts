import * as crypto from 'node:crypto';

import type Provider from 'oidc-provider';
import { errors, type AdapterPayload, type AuthorizationDetail } from 'oidc-provider';

import type { IdpBehaviour } from './behaviour';
import { FileAdapter } from './file-adapter';
import type { FileStore } from './file-store';
import { sendError, sendJson, type RouteHandler } from './http';
import { OIDC_SCOPES, RESOURCE_SCOPE } from './provider';
import { describeAuthorizationDetail } from './rar';
import { findUser } from './users';

const REQUEST_MODEL = 'BackchannelAuthenticationRequest';
const PROVIDER_SCOPES = new Set(OIDC_SCOPES);
const RESOURCE_SCOPES = new Set(RESOURCE_SCOPE.split(' '));

/** What the authentication device shows for one undecided request. */
export interface PendingRequestView {
  auth_req_id: string;
  client_id: string;
  user: string;
  login_hint: string | null;
  binding_message: string | null;
  authorization_details: AuthorizationDetail[] | null;
  /** Readable lines for authorization_details, e.g. "Pay 50.00 USD to ExampleCorp". */
  summary: string[];
  scope: string;
  expires_at: string;
}

function parseDetails(raw: unknown): AuthorizationDetail[] | undefined {
  if (typeof raw !== 'string') return undefined;
  const parsed = JSON.parse(raw) as AuthorizationDetail[]; // validated by oidc-provider at /bc-authorize
  return parsed.length ? parsed : undefined;
}

/** Pending = accepted by /bc-authorize, not yet approved/denied/redeemed, not expired. */
export function listPending(store: FileStore, user?: string): PendingRequestView[] {
  const nowS = Date.now() / 1000;
  const sub = user === undefined ? undefined : (findUser(user)?.sub ?? user);
  return store
    .list<AdapterPayload>(FileAdapter.keyPrefix(REQUEST_MODEL))
    .map(([, p]) => p)
    .filter((p) => !p.consumed && !p.grantId && !p.error && (p.exp ?? 0) > nowS)
    .filter((p) => sub === undefined || p.accountId === sub)
    .sort((a, b) => (a.iat ?? 0) - (b.iat ?? 0))
    .map((p) => {
      const details = parseDetails(p.params?.authorization_details);
      return {
        auth_req_id: p.jti!,
        client_id: p.clientId!,
        user: p.accountId!,
        login_hint: typeof p.params?.login_hint === 'string' ? p.params.login_hint : null,
        binding_message: typeof p.params?.binding_message === 'string' ? p.params.binding_message : null,
        authorization_details: details ?? null,
        summary: (details ?? []).map(describeAuthorizationDetail),
        scope: p.scope ?? '',
        expires_at: new Date((p.exp ?? 0) * 1000).toISOString(),
      };
    });
}

type Decision = 'approve' | 'deny';

/**
 * The user's decision. Approve stores a Grant with exactly what was asked (OIDC scopes, the API's scopes, the
 * authorization_details entries the behaviour grants: all for Auth0, none for Keycloak) and completes the request
 * with backchannelResult; deny completes it with access_denied. The client learns the outcome on its next poll.
 */
async function decide(
  provider: Provider,
  authReqId: string,
  decision: Decision,
  behaviour: IdpBehaviour,
  log: (line: string) => void,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const request = await provider.BackchannelAuthenticationRequest.find(authReqId, { ignoreExpiration: true });
  if (!request) return { status: 404, body: { error: 'not_found', error_description: 'unknown auth_req_id' } };
  if (request.isExpired) return { status: 409, body: { error: 'expired', error_description: 'request expired' } };
  if (request.grantId || request.error || request.consumed) {
    return { status: 409, body: { error: 'already_decided', error_description: 'request already decided' } };
  }

  let result: InstanceType<Provider['Grant']> | errors.AccessDenied;
  let rar: AuthorizationDetail[] | undefined;
  if (decision === 'approve') {
    const scopes = (request.scope ?? '').split(' ').filter(Boolean);
    const grant = new provider.Grant({ accountId: request.accountId!, clientId: request.clientId });
    grant.addOIDCScope(scopes.filter((s) => PROVIDER_SCOPES.has(s)));
    const resources = [request.resource ?? []].flat();
    for (const resource of resources) grant.addResourceScope(resource, scopes.filter((s) => RESOURCE_SCOPES.has(s)));
    rar = behaviour.grantedAuthorizationDetails(parseDetails(request.params?.authorization_details));
    for (const detail of rar ?? []) grant.addRar(detail);
    await grant.save();
    result = grant;
  } else {
    result = new errors.AccessDenied('the user denied the request');
  }

  try {
    await provider.backchannelResult(request, result, { rar, authTime: Math.floor(Date.now() / 1000) });
  } catch (err) {
    // For ping clients the result is saved before the ping is sent; a failed ping only means the client
    // has to poll (our notification endpoint is not reachable by design).
    const saved = await provider.BackchannelAuthenticationRequest.find(authReqId, { ignoreExpiration: true });
    if (!saved?.grantId && !saved?.error) throw err;
    log(`ping delivery failed: ${(err as Error).message}`);
  }
  log(`device: ${decision === 'approve' ? 'approved' : 'denied'} a request of ${request.accountId}`);
  return { status: 200, body: { status: decision === 'approve' ? 'approved' : 'denied' } };
}

/**
 * DEV-ONLY: the simulated authentication device (GET /device, GET /device/requests, POST
 * /device/requests/:authReqId/approve|deny). No authentication: loopback only, cross-site POSTs refused
 * (browser-guard.ts).
 */
export function deviceRoutes(
  provider: Provider,
  store: FileStore,
  behaviour: IdpBehaviour,
  log: (line: string) => void,
): RouteHandler {
  return async (req, res, url) => {
    if (req.method === 'GET' && (url.pathname === '/device' || url.pathname === '/device/')) {
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'content-security-policy': devicePageCsp(),
      });
      res.end(DEVICE_PAGE);
      return true;
    }
    if (req.method === 'GET' && url.pathname === '/device/requests') {
      sendJson(res, 200, listPending(store, url.searchParams.get('user') ?? undefined));
      return true;
    }
    const match = /^\/device\/requests\/([^/]+)\/(approve|deny)$/.exec(url.pathname);
    if (req.method === 'POST' && match?.[1] && match[2]) {
      req.resume(); // no body expected
      const authReqId = decodeURIComponent(match[1]);
      const { status, body } = await decide(provider, authReqId, match[2] as Decision, behaviour, log);
      sendJson(res, status, body);
      return true;
    }
    if (url.pathname.startsWith('/device/')) {
      sendError(res, 404, 'not_found', 'no such device endpoint');
      return true;
    }
    return false;
  };
}

/** The authentication device: a self-contained page (no external assets) polling the API every 2 s. */
const DEVICE_PAGE = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Authentication device</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  .card { border: 1px solid #ccc; border-radius: 8px; padding: 1rem; margin: 1rem 0; }
  .binding { font-size: 1.2rem; font-weight: 600; }
  .meta { color: #666; font-size: .9rem; }
  button { font-size: 1rem; padding: .4rem 1.2rem; margin-right: .5rem; cursor: pointer; }
  .approve { background: #1a7f37; color: #fff; border: 0; border-radius: 4px; }
  .deny { background: #cf222e; color: #fff; border: 0; border-radius: 4px; }
</style>
</head>
<body>
<h1>Pending approvals</h1>
<p class="meta">Requests sent to users through CIBA. Refreshes every 2 seconds.</p>
<div id="list"></div>
<script>
const list = document.getElementById('list');
function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}
async function decide(id, decision) {
  const res = await fetch('/device/requests/' + encodeURIComponent(id) + '/' + decision, { method: 'POST' });
  if (!res.ok) alert((await res.json()).error_description || res.status);
  refresh();
}
async function refresh() {
  try {
    const items = await (await fetch('/device/requests')).json();
    list.replaceChildren();
    if (!items.length) list.append(el('p', 'meta', 'Nothing to approve.'));
    for (const item of items) {
      const card = el('div', 'card');
      card.append(el('div', 'binding', item.binding_message || '(no binding message)'));
      for (const line of item.summary) card.append(el('div', '', line));
      card.append(el('div', 'meta', 'User ' + item.user + ' · client ' + item.client_id + ' · scope ' + item.scope));
      card.append(el('div', 'meta', 'Expires ' + new Date(item.expires_at).toLocaleString()));
      const approve = el('button', 'approve', 'Approve');
      approve.onclick = () => decide(item.auth_req_id, 'approve');
      const deny = el('button', 'deny', 'Deny');
      deny.onclick = () => decide(item.auth_req_id, 'deny');
      const actions = el('p');
      actions.append(approve, deny);
      card.append(actions);
      list.append(card);
    }
  } catch (e) {
    list.replaceChildren(el('p', 'meta', 'Provider unreachable: ' + e));
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
`;

/**
 * The page's own script and style (by hash) and requests to its own origin, nothing else; never framed. Requests
 * show what clients sent (binding messages, authorization_details): even markup slipped into one cannot run.
 */
function devicePageCsp(): string {
  const hash = (tag: string) => {
    const body = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(DEVICE_PAGE)?.[1] ?? '';
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

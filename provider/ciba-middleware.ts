import * as crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';

import type { KoaContextWithOIDC } from 'oidc-provider';

import { HttpError, readBody } from './http';
import type { Pacing } from './pacing';
import type { RequestLog } from './request-log';

export const CIBA_GRANT_TYPE = 'urn:openid:params:grant-type:ciba';

export interface CibaMiddlewareOptions {
  paths: { backchannel: string; token: string };
  pollInterval: number;
  pacing: Pacing;
  requestLog: RequestLog;
  /** Static clients (id → secret), to authenticate a poll before answering slow_down. */
  clientSecrets: ReadonlyMap<string, string>;
  log: (line: string) => void;
}

type Form = Record<string, string | undefined>;

/**
 * Runs around oidc-provider's /bc-authorize and /oauth/token handlers:
 * - adds `interval` to every successful backchannel authentication response (oidc-provider omits it);
 * - answers `slow_down` itself (oidc-provider never does) before the token endpoint logic sees the poll;
 * - answers a body over the size limit with 413 and an OAuth error (Koa's own answer is a text/plain page);
 * - records every request in the request log, and logs one line per request without personal data.
 */
export function cibaMiddleware(options: CibaMiddlewareOptions) {
  const { paths, pollInterval, pacing, requestLog, clientSecrets, log } = options;

  return async (ctx: KoaContextWithOIDC, next: () => Promise<unknown>): Promise<void> => {
    const endpoint =
      ctx.method !== 'POST'
        ? undefined
        : ctx.path === paths.backchannel
          ? 'bc-authorize'
          : ctx.path === paths.token
            ? 'token'
            : undefined;
    if (!endpoint) {
      await next();
      return;
    }

    let form: Form;
    try {
      form = await readForm(ctx);
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      ctx.status = err.status;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error: err.error, error_description: err.message };
      requestLog.append({ endpoint, status: ctx.status, error: err.error });
      log(`${endpoint} ${ctx.status} ${err.error}: ${err.message}`);
      return;
    }

    if (endpoint === 'token') {
      const authReqId = form.grant_type === CIBA_GRANT_TYPE ? form.auth_req_id : undefined;
      const clientId = authenticatedClient(ctx.get('authorization'), form, clientSecrets);
      const verdict = authReqId && clientId ? pacing.poll(authReqId, clientId) : { slowDown: false as const };
      if (verdict.slowDown) {
        ctx.status = 400;
        ctx.set('Cache-Control', 'no-store');
        ctx.set('Retry-After', String(verdict.interval));
        ctx.body = {
          error: 'slow_down',
          error_description: `polling too frequently (${verdict.reason}): wait ${verdict.interval} seconds between polls`,
          interval: verdict.interval,
        };
      } else {
        await next();
      }
      const error = errorOf(ctx.body);
      const client = ctx.oidc?.client?.clientId ?? clientId;
      requestLog.append({
        endpoint,
        status: ctx.status,
        error,
        authReqId,
        grantType: form.grant_type,
        clientId: client,
      });
      log(`token ${ctx.status}${error ? ` ${error}` : ''} grant_type=${form.grant_type ?? '-'}`);
      return;
    }

    await next();
    const body = ctx.body as Record<string, unknown> | undefined;
    const authReqId = ctx.status === 200 && typeof body?.auth_req_id === 'string' ? body.auth_req_id : undefined;
    if (authReqId && body) {
      ctx.body = { ...body, interval: pollInterval };
      pacing.start(authReqId, ctx.oidc.client!.clientId, Number(body.expires_in));
    }
    const error = errorOf(ctx.body);
    requestLog.append({
      endpoint,
      status: ctx.status,
      error,
      authReqId,
      clientId: ctx.oidc?.client?.clientId,
      loginHint: form.login_hint,
      bindingMessage: form.binding_message,
      scope: form.scope,
    });
    // The user by sub (opaque), never the login hint, binding message or authorization_details.
    log(`bc-authorize ${ctx.status}${error ? ` ${error}` : ''} user=${ctx.oidc.entities.Account?.accountId ?? '-'}`);
  };
}

function errorOf(body: unknown): string | undefined {
  const error = (body as { error?: unknown } | undefined)?.error;
  return typeof error === 'string' ? error : undefined;
}

/**
 * Reads the form body once and hands it on to oidc-provider as `req.body` (its parser accepts a pre-read body,
 * printing a one-time notice about it).
 */
async function readForm(ctx: KoaContextWithOIDC): Promise<Form> {
  if (!ctx.is('application/x-www-form-urlencoded')) return {};
  const raw = await readBody(ctx.req);
  (ctx.req as IncomingMessage & { body?: string }).body = raw;
  const form: Form = {};
  for (const [key, value] of new URLSearchParams(raw)) form[key] ??= value;
  return form;
}

/** client_secret_basic (or client_secret_post) check against the static clients; undefined when it fails. */
function authenticatedClient(
  authorization: string,
  form: Form,
  secrets: ReadonlyMap<string, string>,
): string | undefined {
  let id = form.client_id;
  let secret = form.client_secret;
  const basic = /^Basic (.+)$/i.exec(authorization);
  if (basic?.[1]) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    try {
      id = decodeURIComponent(decoded.slice(0, colon));
      secret = decodeURIComponent(decoded.slice(colon + 1));
    } catch {
      return undefined;
    }
  }
  const expected = id === undefined ? undefined : secrets.get(id);
  if (expected === undefined || secret === undefined) return undefined;
  const a = crypto.createHash('sha256').update(secret).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b) ? id : undefined;
}

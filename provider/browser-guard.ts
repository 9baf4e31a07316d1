import type { Middleware, Next, ParameterizedContext } from 'koa';

import { sendError } from './http';

/** On every response: no page of the provider may be framed (clickjacking the device's Approve button). */
export const SECURITY_HEADERS = {
  'Content-Security-Policy': "frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
} as const;

/** Koa middleware, first on the provider's app: SECURITY_HEADERS on every answer (a page may set a stricter CSP). */
export async function securityHeaders(ctx: ParameterizedContext, next: Next): Promise<void> {
  ctx.set(SECURITY_HEADERS);
  await next();
}

/**
 * Origins a page of this provider has: the issuer's, and the loopback names at the port it listens on (the
 * device page opened as http://localhost:3000 while the issuer is a container name, http://idp:3000).
 */
export function ownOrigins(issuer: string, port: number): Set<string> {
  const loopback = ['localhost', '127.0.0.1', '[::1]'].map((host) => `http://${host}:${port}`);
  return new Set([new URL(issuer).origin, ...loopback]);
}

/**
 * Koa middleware for the routes that take no credentials (the device API, the dev-only routes): a browser must not
 * reach them from elsewhere. Refuses a foreign Host (421), and (403) a state-changing request that a browser sent
 * from another site: an `Origin` that is not the provider's own, or `Sec-Fetch-Site` other than same-origin/none.
 * Requests without these headers (curl, tests, the worker) and the device page's own scripts pass.
 */
export function crossSiteGuard(own: ReadonlySet<string>): Middleware {
  const hosts = new Set([...own].map((origin) => new URL(origin).host));
  return async (ctx, next) => {
    // DNS rebinding: a foreign page whose name now resolves to this machine sends its own name as Host. Refused,
    // so it cannot read pending requests or the log either.
    const host = ctx.headers.host;
    if (host !== undefined && !hosts.has(host)) {
      ctx.req.resume();
      sendError(ctx, 421, 'misdirected_request', 'unknown Host');
      return;
    }
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      const origin = ctx.headers.origin;
      const site = ctx.headers['sec-fetch-site'];
      if ((origin !== undefined && !own.has(origin)) || site === 'cross-site' || site === 'same-site') {
        ctx.req.resume();
        sendError(ctx, 403, 'forbidden', 'cross-site request refused');
        return;
      }
    }
    await next();
  };
}

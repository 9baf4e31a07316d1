import type { ServerResponse } from 'node:http';

import { sendError, type RouteHandler } from './http';

/** On every response: no page of the provider may be framed (clickjacking the device's Approve button). */
export function setSecurityHeaders(res: ServerResponse): void {
  res.setHeader('Content-Security-Policy', "frame-ancestors 'none'");
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('X-Content-Type-Options', 'nosniff');
}

/**
 * Origins a page of this provider has: the issuer's, and the loopback names at the port it listens on (the
 * device page opened as http://localhost:3000 while the issuer is a container name, http://idp:3000).
 */
export function ownOrigins(issuer: string, port: number): Set<string> {
  const loopback = ['localhost', '127.0.0.1', '[::1]'].map((host) => `http://${host}:${port}`);
  return new Set([new URL(issuer).origin, ...loopback]);
}

/** The device API and the dev-only routes take no credentials: a browser must not reach them from elsewhere. */
const GUARDED = /^\/(device|dev)(\/|$)/;

/**
 * Refuses (403) a state-changing request to the device API or a dev-only route that a browser sent from another
 * site: an `Origin` that is not the provider's own, or `Sec-Fetch-Site` other than same-origin/none. Requests
 * without these headers (curl, tests, the worker) and the device page's own scripts pass.
 */
export function crossSiteGuard(own: ReadonlySet<string>): RouteHandler {
  const hosts = new Set([...own].map((origin) => new URL(origin).host));
  return async (req, res, url) => {
    if (!GUARDED.test(url.pathname)) return false;
    // DNS rebinding: a foreign page whose name now resolves to this machine sends its own name as Host. Refused,
    // so it cannot read pending requests or the log either.
    if (req.headers.host !== undefined && !hosts.has(req.headers.host)) {
      req.resume();
      sendError(res, 421, 'misdirected_request', 'unknown Host');
      return true;
    }
    if (req.method === 'GET' || req.method === 'HEAD') return false;
    const origin = req.headers.origin;
    const site = req.headers['sec-fetch-site'];
    const foreign = (origin !== undefined && !own.has(origin)) || site === 'cross-site' || site === 'same-site';
    if (!foreign) return false;
    req.resume();
    sendError(res, 403, 'forbidden', 'cross-site request refused');
    return true;
  };
}

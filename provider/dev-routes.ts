import { HttpError, readJson, sendError, sendJson, type RouteHandler } from './http';
import type { Pacing } from './pacing';
import type { RequestLog } from './request-log';

/**
 * DEV-ONLY test controls, no authentication (loopback only; cross-site POSTs refused by browser-guard.ts):
 * - GET /dev/log[?authReqId=&bindingMessage=]: the request log;
 * - POST /dev/requests/:authReqId/slow-down {count?}: the next `count` polls of that request answer slow_down.
 */
export function devRoutes(requestLog: RequestLog, pacing: Pacing): RouteHandler {
  return async (req, res, url) => {
    if (!url.pathname.startsWith('/dev/')) return false;

    if (req.method === 'GET' && url.pathname === '/dev/log') {
      sendJson(
        res,
        200,
        requestLog.list({
          authReqId: url.searchParams.get('authReqId') ?? undefined,
          bindingMessage: url.searchParams.get('bindingMessage') ?? undefined,
        }),
      );
      return true;
    }

    const match = /^\/dev\/requests\/([^/]+)\/slow-down$/.exec(url.pathname);
    if (req.method === 'POST' && match?.[1]) {
      try {
        const { count = 1 } = await readJson(req);
        if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) {
          throw new HttpError(400, 'invalid_request', 'count must be a positive integer');
        }
        const authReqId = decodeURIComponent(match[1]);
        const state = pacing.force(authReqId, count);
        if (!state) throw new HttpError(404, 'not_found', 'unknown or expired auth_req_id');
        sendJson(res, 200, { authReqId, pendingSlowDowns: state.forced, interval: state.interval });
      } catch (err) {
        if (!(err instanceof HttpError)) throw err;
        sendError(res, err.status, err.error, err.message);
      }
      return true;
    }

    sendError(res, 404, 'not_found', 'no such dev endpoint');
    return true;
  };
}

import type Router from '@koa/router';

import { HttpError, notFound, readJson } from './http';
import type { Pacing } from './pacing';
import type { RequestLog } from './request-log';
import type { PaymentLedger } from './resource-server';

/**
 * DEV-ONLY test controls, no authentication (mount on a router guarded by crossSiteGuard, browser-guard.ts; on
 * loopback only):
 * - GET /dev/log[?authReqId=&bindingMessage=]: the request log;
 * - POST /dev/requests/:authReqId/slow-down {count?}: the next `count` polls of that request answer slow_down;
 * - GET /dev/payments: the payments the demo payments API executed.
 */
export function devRoutes(router: Router, requestLog: RequestLog, pacing: Pacing, ledger: PaymentLedger): void {
  router.get('/dev/payments', (ctx) => {
    ctx.body = ledger.executed;
  });

  router.get('/dev/log', (ctx) => {
    const query = new URLSearchParams(ctx.querystring);
    ctx.body = requestLog.list({
      authReqId: query.get('authReqId') ?? undefined,
      bindingMessage: query.get('bindingMessage') ?? undefined,
    });
  });

  router.post('/dev/requests/:authReqId/slow-down', async (ctx) => {
    const { count = 1 } = await readJson(ctx.req);
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) {
      throw new HttpError(400, 'invalid_request', 'count must be a positive integer');
    }
    const authReqId = ctx.params.authReqId!;
    const state = pacing.force(authReqId, count);
    if (!state) throw new HttpError(404, 'not_found', 'unknown or expired auth_req_id');
    ctx.body = { authReqId, pendingSlowDowns: state.forced, interval: state.interval };
  });

  router.all('/dev/{*rest}', notFound('no such dev endpoint'));
}

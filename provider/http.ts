import type { IncomingMessage } from 'node:http';

import Router from '@koa/router';
import type { Middleware, ParameterizedContext } from 'koa';

/** Same limit as oidc-provider's own body parser. */
const BODY_LIMIT = 56 * 1024;

/** An answer with an OAuth-style error body; thrown by our own routes, answered by ownRouter's first middleware. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    description: string,
  ) {
    super(description);
  }
}

/**
 * The body as text. Over BODY_LIMIT: HttpError 413 (invalid_request), once the rest of the body has been read and
 * discarded. Answering before the client has finished sending would make it see a reset instead of the 413, and
 * leave the kept-alive connection unusable.
 */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= BODY_LIMIT) chunks.push(chunk);
    });
    req.once('end', () => {
      if (size > BODY_LIMIT) reject(new HttpError(413, 'invalid_request', 'request body too large'));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.once('error', reject);
  });
}

/** Reads an optional JSON object body ({} when empty). */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const raw = await readBody(req);
  if (!raw.trim()) return {};
  try {
    const parsed: unknown = JSON.parse(raw);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new HttpError(400, 'invalid_request', 'body must be a JSON object');
}

/** Answers `{ error, error_description }` with `status`, never cached. */
export function sendError(ctx: ParameterizedContext, status: number, error: string, description: string): void {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error, error_description: description };
}

/**
 * A router for our own (non-oidc-provider) routes, to mount with `provider.use(router.routes())`. Paths match as
 * written (case and trailing slash). Its first middleware makes every answer uncacheable, answers an HttpError with
 * its OAuth error, and anything else with a logged 500.
 */
export function ownRouter(log: (line: string) => void): Router {
  const router = new Router({ strict: true, sensitive: true });
  router.use(answerErrors(log));
  return router;
}

function answerErrors(log: (line: string) => void): Middleware {
  return async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    try {
      await next();
    } catch (err) {
      if (err instanceof HttpError) {
        sendError(ctx, err.status, err.error, err.message);
        return;
      }
      // The path only: a query string may name a user (GET /device/requests?user=...).
      log(`error on ${ctx.method} ${ctx.path}: ${(err as Error).message}`);
      if (ctx.headerSent) ctx.res.destroy();
      else sendError(ctx, 500, 'server_error', 'internal error');
    }
  };
}

/** A route answering 404 for every method: the end of a family of routes (`/device/...`). */
export function notFound(description: string): Middleware {
  return () => {
    throw new HttpError(404, 'not_found', description);
  };
}

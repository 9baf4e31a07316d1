import type { IncomingMessage, ServerResponse } from 'node:http';

/** Same limit as oidc-provider's own body parser. */
const BODY_LIMIT = 56 * 1024;

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

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

export function sendError(res: ServerResponse, status: number, error: string, description: string): void {
  sendJson(res, status, { error, error_description: description });
}

/** A handler for our own (non-oidc-provider) routes: returns false when the request is not for it. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

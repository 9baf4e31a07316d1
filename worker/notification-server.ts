/**
 * CIBA ping mode, client side (CIBA Core 10.2): the https endpoint the provider POSTs `{"auth_req_id": ...}` to,
 * with `Authorization: Bearer <client_notification_token>`. The token is the approval's own
 * (common/notification-token.ts: it names the workflow and is checked by HMAC, in constant time); a valid ping
 * signals that workflow (`pingSignal`), which then polls the token endpoint at once. The ping is only a hint.
 *
 * Client over the worker's NativeConnection (checked with @temporalio/client and @temporalio/worker 1.24.0):
 * `NativeConnection` implements the client's `ConnectionLike` (its d.ts says "can be used to power
 * `@temporalio/client`'s Client objects"), so `new Client({ connection: nativeConnection, namespace,
 * dataConverter })` works, no `Connection.connect` (a second, grpc-js connection) needed. Tried against
 * `temporal server start-dev`: signals to a running workflow arrive; a signal to a workflow that does not exist,
 * or that has closed, throws `WorkflowNotFoundError` (gRPC NOT_FOUND) over the NativeConnection too. The Client
 * MUST use the clients' encrypting data converter (`temporalSettings().dataConverter`), not the worker's one:
 * the worker's workflow interceptors drop a signal whose input is not encrypted with our key.
 */
import { createHash } from 'node:crypto';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { z } from 'zod';
import { verifyNotificationToken } from '../common/notification-token';
import { pingSignal } from '../workflows/signals';

export const NOTIFY_PATH = '/ciba/notify';
export const MAX_BODY_BYTES = 8 * 1024;

/** Delivers a verified ping to the approval workflow. Must resolve (not throw) when that workflow no longer runs. */
export type PingSignal = (workflowId: string, authReqId: string) => Promise<void>;

export interface NotificationServerOptions {
  /** 0 for a free port. */
  port: number;
  /** Interface to listen on, e.g. '127.0.0.1' or '0.0.0.0'. */
  host: string;
  tls: { cert: string | Buffer; key: string | Buffer };
  /** Notification-token key(s): the current one first; previous ones while their tokens may still ping. */
  key: Uint8Array | readonly Uint8Array[];
  signal: PingSignal;
  /** Where events go (never tokens or full auth_req_ids). Default: stderr. */
  log?: (message: string) => void;
  /** A signal taking longer is given up (503). Default 10 s. */
  signalTimeoutMs?: number;
}

export interface NotificationServer {
  server: https.Server;
  port: number;
  /** The endpoint's URL, e.g. https://127.0.0.1:PORT/ciba/notify (register it with a host name the cert covers). */
  url: string;
  close(): Promise<void>;
}

/** The ping body (CIBA Core 10.2). auth_req_id is opaque; RFC 6749 VSCHAR, bounded (Keycloak's are ~1.5 KB). */
const PingBody = z.object({
  auth_req_id: z
    .string()
    .min(1)
    .max(4096)
    .regex(/^[\x20-\x7e]+$/),
});
/** RFC 6750 b64token. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** Delivers pings through a Temporal Client (see the note above on which Client). */
export function signalApproval(client: Client): PingSignal {
  return async (workflowId, authReqId) => {
    try {
      await client.workflow.getHandle(workflowId).signal(pingSignal, { authReqId });
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return; // not found or already closed: the ping is moot
      throw error;
    }
  };
}

export async function startNotificationServer(options: NotificationServerOptions): Promise<NotificationServer> {
  const log = options.log ?? ((message: string) => process.stderr.write(`ciba notify: ${message}\n`));
  const server = https.createServer({ cert: options.tls.cert, key: options.tls.key }, (req, res) => {
    handle(req, res, options, log).catch((error: unknown) => {
      log(`internal error: ${error instanceof Error ? error.name : 'unknown'}`);
      if (!res.headersSent) send(res, 500);
      else res.destroy();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 50;
  server.on('tlsClientError', () => {}); // scanners and bad clients: nothing to do

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    server,
    port,
    url: `https://${host}:${port}${NOTIFY_PATH}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      }),
  };
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  options: NotificationServerOptions,
  log: (message: string) => void,
): Promise<void> {
  const path = (req.url ?? '').split('?')[0];
  if (path !== NOTIFY_PATH) return send(res, 404);
  if (req.method !== 'POST') return send(res, 405, { Allow: 'POST' });

  // Authenticate before reading the body: unauthenticated callers get nothing buffered.
  const bearer = BEARER.exec(req.headers.authorization ?? '');
  const verified = bearer ? verifyNotificationToken(options.key, bearer[1]) : undefined;
  if (!verified) {
    log(`refused ping from ${req.socket.remoteAddress ?? '?'}: ${bearer ? 'invalid' : 'missing'} token`);
    return send(res, 401, { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
  }
  const { workflowId } = verified;

  const mediaType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (mediaType !== 'application/json') return send(res, 415);
  const declared = req.headers['content-length'];
  if (declared !== undefined && !(Number(declared) <= MAX_BODY_BYTES)) return send(res, 413);
  const raw = await readBody(req, MAX_BODY_BYTES);
  if (raw === undefined) return send(res, 413);

  let authReqId: string;
  try {
    const parsed = PingBody.safeParse(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw)));
    if (!parsed.success) throw new Error('invalid ping body');
    authReqId = parsed.data.auth_req_id;
  } catch {
    log(`bad ping body for workflow ${workflowId}`);
    return send(res, 400);
  }

  const ref = `${workflowId} (auth_req_id #${createHash('sha256').update(authReqId).digest('hex').slice(0, 8)})`;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      options.signal(workflowId, authReqId),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new SignalTimeoutError()), options.signalTimeoutMs ?? 10_000);
      }),
    ]);
  } catch (error) {
    log(`ping for ${ref} not delivered: ${error instanceof Error ? error.name : 'unknown error'}`);
    return send(res, 503);
  } finally {
    clearTimeout(timer);
  }
  log(`ping for ${ref}`);
  send(res, 204);
}

class SignalTimeoutError extends Error {
  override readonly name = 'SignalTimeoutError';
}

/** The body, or undefined once it exceeds `limit` bytes (the rest is not read). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.off('end', onEnd);
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => resolve(Buffer.concat(chunks));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', reject);
  });
}

/** An empty response. Responses to requests whose body was not read close the connection. */
function send(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  const unread = !res.req.complete;
  res.writeHead(status, {
    ...headers,
    'Cache-Control': 'no-store',
    'Content-Length': '0',
    ...(unread ? { Connection: 'close' } : {}),
  });
  res.end();
}

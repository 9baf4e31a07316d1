/**
 * The user's device for Keycloak: Keycloak's CIBA "HTTP authentication channel" (FACTS.md). For each backchannel
 * request Keycloak POSTs JSON (login_hint, binding_message, scope, authorization_details, ...) with a bearer JWT to
 * `url` and needs HTTP 201; the user's decision goes back as POST
 * `{issuer}/protocol/openid-connect/ext/ciba/auth/callback` with that bearer and `{"status": ...}`.
 *
 * This server records every request and lets a test (or a person, over HTTP) decide:
 *   GET  /requests                      the requests seen (without bearer tokens)
 *   POST /requests/<seq>/approve|deny   SUCCEED / UNAUTHORIZED
 * Loopback only, tests and local development only.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type ChannelDecision = 'SUCCEED' | 'UNAUTHORIZED' | 'CANCELLED';

/** One backchannel request as Keycloak handed it to the user's device. */
export interface ChannelRequest {
  seq: number;
  receivedAt: string;
  loginHint?: string;
  bindingMessage?: string;
  scope?: string;
  /** As Keycloak sent it (its raw request parameter). */
  authorizationDetails?: unknown;
  /** Everything Keycloak sent. */
  body: Record<string, unknown>;
  /** Keycloak's bearer token for the callback (never printed). */
  bearer: string;
  /** Set once a test claimed it (waitFor) or it was decided. */
  claimed: boolean;
  decision?: ChannelDecision;
}

export class AuthChannel {
  readonly requests: ChannelRequest[] = [];

  constructor(
    private readonly server: http.Server,
    private readonly onRequest: (request: ChannelRequest) => void = () => {},
  ) {
    server.on(
      'request',
      (req, res) => void this.handle(req, res).catch((error: Error) => reply(res, 500, { error: error.message })),
    );
  }

  /** The URL Keycloak's channel option points at. */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/request`;
  }

  /** The oldest request not claimed yet that `match`es; claims it. */
  async waitFor(match: (request: ChannelRequest) => boolean = () => true, timeoutMs = 30_000): Promise<ChannelRequest> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const request = this.requests.find((r) => !r.claimed && match(r));
      if (request) {
        request.claimed = true;
        return request;
      }
      if (Date.now() > deadline) {
        const seen = this.requests.map(({ seq, loginHint, bindingMessage, claimed }) => ({
          seq,
          loginHint,
          bindingMessage,
          claimed,
        }));
        throw new Error(`auth channel: no matching request after ${timeoutMs} ms; seen: ${JSON.stringify(seen)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The user's decision, sent to Keycloak's callback endpoint for the realm that issued the bearer token. */
  async decide(request: ChannelRequest, status: ChannelDecision): Promise<void> {
    request.claimed = true;
    const issuer = tokenIssuer(request.bearer);
    const response = await fetch(`${issuer}/protocol/openid-connect/ext/ciba/auth/callback`, {
      method: 'POST',
      headers: { authorization: `Bearer ${request.bearer}`, 'content-type': 'application/json' },
      body: JSON.stringify({ status }),
    });
    if (!response.ok)
      throw new Error(`auth channel callback ${status}: HTTP ${response.status} ${await response.text()}`);
    request.decision = status;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const path = new URL(req.url ?? '/', 'http://channel').pathname;
    if (req.method === 'POST' && path === '/request') {
      const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
      if (!bearer) return reply(res, 401, { error: 'bearer token required' });
      const body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>;
      const request: ChannelRequest = {
        seq: this.requests.length + 1,
        receivedAt: new Date().toISOString(),
        loginHint: stringOrUndefined(body.login_hint),
        bindingMessage: stringOrUndefined(body.binding_message),
        scope: stringOrUndefined(body.scope),
        authorizationDetails: body.authorization_details ?? undefined,
        body,
        bearer,
        claimed: false,
      };
      this.requests.push(request);
      this.onRequest(request);
      return reply(res, 201, {});
    }
    if (req.method === 'GET' && path === '/requests') {
      return reply(
        res,
        200,
        this.requests.map(({ bearer: _bearer, ...visible }) => visible),
      );
    }
    const decision = /^\/requests\/(\d+)\/(approve|deny)$/.exec(path);
    const request = decision && this.requests[Number(decision[1]) - 1];
    if (req.method === 'POST' && request) {
      await this.decide(request, decision[2] === 'approve' ? 'SUCCEED' : 'UNAUTHORIZED');
      return reply(res, 200, { seq: request.seq, decision: request.decision });
    }
    reply(res, 404, { error: 'not found' });
  }
}

/** Starts the channel server on a free loopback port. `onRequest` sees each request as it arrives. */
export async function startAuthChannel(onRequest?: (request: ChannelRequest) => void): Promise<AuthChannel> {
  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return new AuthChannel(server, onRequest);
}

/** The `iss` of Keycloak's bearer JWT: the realm (as the worker reached it) to send the decision to. */
function tokenIssuer(bearer: string): string {
  const payload = JSON.parse(Buffer.from(bearer.split('.')[1] ?? '', 'base64url').toString()) as { iss?: unknown };
  if (typeof payload.iss !== 'string') throw new Error('auth channel: the bearer token names no issuer');
  return payload.iss;
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function reply(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

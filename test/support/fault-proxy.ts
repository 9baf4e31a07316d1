/**
 * A scriptable HTTP fault proxy between the worker and the local CIBA provider (loopback only, tests only).
 *
 * The worker is configured with the proxy's URL as its issuer. The provider is started with `IDP_ISSUER` set to that
 * same URL (see startProxiedProvider), so its discovery document, its endpoints and the `iss` of its ID tokens all
 * name the proxy: nothing has to be rewritten, and oauth4webapi's issuer checks pass exactly as they would against a
 * real provider behind a gateway. The test itself talks to the provider directly (device API, GET /dev/log), so its
 * own requests are never faulted.
 *
 * Faults are scripted per request with rules: `proxy.failNext({ endpoint: 'token', fault: { kind: 'status',
 * status: 503 }, times: 2 })`. The first rule (oldest first) that matches a request and has uses left applies to it;
 * requests no rule matches are forwarded untouched. Every request that reached the proxy is in `proxy.log`, with
 * what the client got; what reached the provider is the provider's own log (GET /dev/log): faults injected before
 * forwarding never reach it.
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import * as net from 'node:net';
import { ApprovalFailedError, type ApprovalClient } from '../../client/approvals';
import type { ApprovalResult } from '../../common/approval';
import { Device, startProvider, type StartedProvider } from './stack';

export type Endpoint = 'discovery' | 'bc-authorize' | 'token' | 'other';

export type Fault =
  /**
   * Answer with this HTTP status instead of the provider. `body`: 'html' (an error page), 'json' (an OAuth error
   * object), or a literal string. `forward: true` first lets the provider process the request (and throws its answer
   * away): "the provider did it, then the answer was replaced on the way back".
   */
  | { kind: 'status'; status: number; body?: 'html' | 'json' | string; retryAfter?: number | string; forward?: boolean }
  /** Reset the connection before forwarding: the provider never sees the request. */
  | { kind: 'reset' }
  /** Never answer, never forward: the client times out. */
  | { kind: 'no-answer' }
  /** HTTP 200, content-type application/json, a body that is not JSON. */
  | { kind: 'malformed-json'; forward?: boolean }
  /** HTTP 200 with an HTML error page (a gateway's maintenance page). */
  | { kind: 'html-200'; forward?: boolean }
  /**
   * Forward, then edit the provider's JSON answer: remove members (a token response without access_token) and set
   * others (a token_type no client supports).
   */
  | { kind: 'edit-json'; remove?: string[]; set?: Record<string, unknown> }
  /** Forward after `ms` (if the client gave up meanwhile, the provider still gets the request, late). */
  | { kind: 'delay'; ms: number }
  /** Forward; the provider processes the request; the client gets a connection reset instead of the answer. */
  | { kind: 'drop-response' }
  /** Forward; send the answer's headers and half its body, then reset the connection. */
  | { kind: 'truncate-body' }
  /** Hold the request until the test decides (`held.forward()` or `held.drop()`); see waitForHeld. */
  | { kind: 'hold' }
  /** Forward, then hold the provider's answer until the test decides (`held.deliver()` or `held.drop()`). */
  | { kind: 'hold-response' }
  /**
   * Forward and answer this request with `Connection: close`, then refuse connections (nothing listens on the port)
   * for `downMs`: the client's next request fails with ECONNREFUSED.
   */
  | { kind: 'go-down-after'; downMs: number };

export type FaultKind = Fault['kind'];

/** What a rule can look at to decide whether it applies. */
export interface ProxiedRequest {
  endpoint: Endpoint;
  method: string;
  path: string;
  /** The form body (empty for GET). Holds no client secret with client_secret_basic. */
  form: URLSearchParams;
}

export interface FaultRule {
  endpoint: Endpoint | 'any';
  fault: Fault;
  /** How many requests this rule applies to (default 1; Infinity for all). */
  times?: number;
  /** Further condition on the request, e.g. its binding message. */
  match?: (request: ProxiedRequest) => boolean;
  /**
   * Forwarding faults only (edit-json, drop-response, truncate-body, hold-response): apply only when the provider
   * answered this status (200: tokens were issued); otherwise the answer passes through and the rule stays armed.
   */
  onlyIfStatus?: number;
  /** Like onlyIfStatus, for the OAuth `error` of the provider's JSON answer (access_denied: the user denied). */
  onlyIfError?: string;
}

export interface ArmedRule {
  readonly rule: FaultRule;
  /** How many requests it applied to so far. */
  readonly applied: number;
  readonly remaining: number;
}

/** One request that reached the proxy. Updated in place until the client got its answer (or none). */
export interface ProxyLogEntry {
  seq: number;
  /** When the request (with its body) had arrived, epoch ms. */
  atMs: number;
  endpoint: Endpoint;
  method: string;
  path: string;
  authReqId?: string;
  bindingMessage?: string;
  /** The fault applied, if any. */
  fault?: FaultKind;
  /** Whether the request was sent on to the provider. */
  forwarded: boolean;
  /** The provider's answer, when it was forwarded. */
  providerStatus?: number;
  /** What the client got: an HTTP status, a reset, or nothing (it gave up, or the proxy closed). */
  outcome?: number | 'reset' | 'no-answer';
  /** When the client got that, epoch ms. */
  answeredAtMs?: number;
  /** Whether the client closed the connection before it got an answer (e.g. its timeout, or it was killed). */
  clientGone?: boolean;
}

export interface ProviderAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A request (or an answer) the proxy holds for the test. */
export interface HeldExchange {
  readonly stage: 'request' | 'response';
  readonly entry: ProxyLogEntry;
  /** The provider's answer, for stage 'response' (e.g. the tokens that will be lost). */
  readonly answer?: ProviderAnswer;
  /** stage 'request': forward it now; the client gets the answer if it is still there. Resolves once the provider answered. */
  forward(): Promise<void>;
  /** stage 'response': send the answer to the client (if it is still there). */
  deliver(): void;
  /** Reset the client's connection (stage 'request': the provider never sees the request). */
  drop(): void;
}

const HTML_PAGE = '<!doctype html><html><head><title>Service unavailable</title></head><body><h1>Oops</h1><p>Try again later.</p></body></html>';

export class FaultProxy {
  readonly log: ProxyLogEntry[] = [];
  private readonly rules: { rule: FaultRule; applied: number }[] = [];
  private readonly held: HeldExchange[] = [];
  private readonly heldWaiters = new Set<() => void>();
  private readonly sockets = new Set<Socket>();
  private readonly upstream = new http.Agent({ keepAlive: false });
  private readonly authReqBindings = new Map<string, string>();
  private server?: http.Server;
  private upTimer?: NodeJS.Timeout;
  private seq = 0;
  private port = 0;
  private closed = false;

  private constructor(private target: URL | undefined) {}

  /** Starts listening on 127.0.0.1 (port 0: any free port). The target can be set later (setTarget). */
  static async start(options: { target?: string; port?: number } = {}): Promise<FaultProxy> {
    const proxy = new FaultProxy(options.target ? new URL(options.target) : undefined);
    proxy.port = options.port ?? 0;
    await proxy.listen();
    return proxy;
  }

  /** e.g. http://127.0.0.1:41234 (no trailing slash). */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  setTarget(target: string): void {
    this.target = new URL(target);
  }

  /** Arms a rule (after those armed before). */
  failNext(rule: FaultRule): ArmedRule {
    const armed = { rule, applied: 0 };
    this.rules.push(armed);
    return {
      rule,
      get applied() {
        return armed.applied;
      },
      get remaining() {
        return (rule.times ?? 1) - armed.applied;
      },
    };
  }

  /** Disarms every rule, drops whatever is held, and comes back up if down. The log is kept. */
  reset(): void {
    this.rules.length = 0;
    for (const held of this.held.splice(0)) held.drop();
    if (this.upTimer) {
      clearTimeout(this.upTimer);
      this.upTimer = undefined;
      void this.listen();
    }
  }

  /** Log entries since `sinceMs` for `endpoint`. */
  entries(endpoint?: Endpoint, sinceMs = 0): ProxyLogEntry[] {
    return this.log.filter((e) => (endpoint === undefined || e.endpoint === endpoint) && e.atMs >= sinceMs);
  }

  /** Waits until the log satisfies `predicate`. */
  async waitForLog(predicate: (log: ProxyLogEntry[]) => boolean, timeoutMs = 30_000, what = 'the expected requests'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.log)) {
      if (Date.now() > deadline) {
        throw new Error(`proxy: no ${what} after ${timeoutMs} ms; log: ${JSON.stringify(this.log.slice(-10))}`);
      }
      await delay(100);
    }
  }

  /** Waits for a held request or answer (oldest first) and hands it to the test. */
  async waitForHeld(timeoutMs = 30_000, predicate: (held: HeldExchange) => boolean = () => true): Promise<HeldExchange> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.held.findIndex(predicate);
      if (index >= 0) return this.held.splice(index, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`proxy: nothing held after ${timeoutMs} ms; log: ${JSON.stringify(this.log.slice(-10))}`);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.heldWaiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.heldWaiters.add(done);
      });
    }
  }

  /** Stops listening and resets every open connection (the next connection attempt is refused). */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** Listens again, on the same port. */
  async up(): Promise<void> {
    if (this.upTimer) clearTimeout(this.upTimer);
    this.upTimer = undefined;
    if (!this.server && !this.closed) await this.listen();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.reset();
    if (this.upTimer) clearTimeout(this.upTimer);
    await this.down();
    this.upstream.destroy();
  }

  private async listen(): Promise<void> {
    if (this.server || this.closed) return;
    const server = http.createServer((req, res) => void this.handle(req, res));
    // Longer than the worker's keep-alive (30 s), so the worker always closes an idle connection first and no
    // request races a server-side close (which would look like a reset the test did not ask for).
    server.keepAliveTimeout = 60_000;
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readAll(req).catch(() => undefined);
    if (body === undefined) return; // the client went away mid-request
    const url = new URL(req.url ?? '/', this.url);
    const endpoint = endpointOf(req.method ?? 'GET', url.pathname);
    const form = new URLSearchParams(req.headers['content-type']?.startsWith('application/x-www-form-urlencoded') ? body.toString() : '');
    const authReqId = form.get('auth_req_id') ?? undefined;
    const entry: ProxyLogEntry = {
      seq: ++this.seq,
      atMs: Date.now(),
      endpoint,
      method: req.method ?? 'GET',
      path: url.pathname,
      authReqId,
      bindingMessage: form.get('binding_message') ?? (authReqId ? this.authReqBindings.get(authReqId) : undefined),
      forwarded: false,
    };
    this.log.push(entry);
    res.once('close', () => {
      if (entry.outcome === undefined && !res.writableFinished) {
        entry.clientGone = true;
        entry.outcome ??= 'no-answer';
      }
    });

    const request: ProxiedRequest = { endpoint, method: entry.method, path: entry.path, form };
    const armed = this.rules.find(
      (r) => r.applied < (r.rule.times ?? 1) && (r.rule.endpoint === 'any' || r.rule.endpoint === endpoint) && (r.rule.match?.(request) ?? true),
    );
    const fault = armed?.rule.fault;
    const consume = () => {
      armed!.applied += 1;
      entry.fault = fault!.kind;
    };

    try {
      if (!armed || !fault) {
        this.send(res, entry, await this.forward(req, body, entry));
        return;
      }
      switch (fault.kind) {
        case 'status': {
          consume();
          if (fault.forward) await this.forward(req, body, entry);
          const json = JSON.stringify({ error: 'temporarily_unavailable', error_description: `injected HTTP ${fault.status}` });
          const [type, text] =
            fault.body === 'json'
              ? ['application/json', json]
              : fault.body === undefined || fault.body === 'html'
                ? ['text/html; charset=utf-8', HTML_PAGE]
                : ['text/plain', fault.body];
          const headers: http.OutgoingHttpHeaders = { 'content-type': type };
          if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
          this.send(res, entry, { status: fault.status, headers, body: Buffer.from(text) });
          return;
        }
        case 'reset':
          consume();
          this.resetClient(res, entry);
          return;
        case 'no-answer':
          consume();
          return; // the client gives up; the proxy resets it on close
        case 'malformed-json':
          consume();
          if (fault.forward) await this.forward(req, body, entry);
          this.send(res, entry, { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"access_token": "eyJ') });
          return;
        case 'html-200':
          consume();
          if (fault.forward) await this.forward(req, body, entry);
          this.send(res, entry, { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: Buffer.from(HTML_PAGE) });
          return;
        case 'delay':
          consume();
          await delay(fault.ms);
          this.send(res, entry, await this.forward(req, body, entry));
          return;
        case 'hold': {
          consume();
          this.hold({
            stage: 'request',
            entry,
            forward: async () => this.send(res, entry, await this.forward(req, body, entry)),
            deliver: () => {
              throw new Error('a held request is forwarded or dropped, not delivered');
            },
            drop: () => this.resetClient(res, entry),
          });
          return;
        }
        case 'go-down-after': {
          consume();
          const answer = await this.forward(req, body, entry);
          // Stop listening before answering: by the time the client has the answer, its next connection is refused.
          const server = this.server;
          this.server = undefined;
          server?.close();
          this.upTimer = setTimeout(() => {
            this.upTimer = undefined;
            void this.listen();
          }, fault.downMs);
          this.send(res, entry, { ...answer, headers: { ...answer.headers, connection: 'close' } });
          return;
        }
        case 'edit-json':
        case 'drop-response':
        case 'truncate-body':
        case 'hold-response': {
          const answer = await this.forward(req, body, entry);
          const skip =
            (armed.rule.onlyIfStatus !== undefined && answer.status !== armed.rule.onlyIfStatus) ||
            (armed.rule.onlyIfError !== undefined && oauthError(answer.body) !== armed.rule.onlyIfError);
          if (skip) {
            this.send(res, entry, answer);
            return;
          }
          consume();
          if (fault.kind === 'edit-json') {
            const json = { ...(JSON.parse(answer.body.toString()) as Record<string, unknown>), ...fault.set };
            for (const field of fault.remove ?? []) delete json[field];
            this.send(res, entry, { ...answer, body: Buffer.from(JSON.stringify(json)) });
          } else if (fault.kind === 'drop-response') {
            this.resetClient(res, entry);
          } else if (fault.kind === 'truncate-body') {
            const headers = withoutHopHeaders(answer.headers);
            headers['content-length'] = String(answer.body.length);
            res.writeHead(answer.status, headers);
            res.write(answer.body.subarray(0, Math.floor(answer.body.length / 2)));
            entry.outcome = 'reset';
            entry.answeredAtMs = Date.now();
            // Let the headers and the first half leave before the reset.
            setTimeout(() => resetSocket(res.socket), 50);
          } else {
            this.hold({
              stage: 'response',
              entry,
              answer,
              forward: () => Promise.reject(new Error('a held answer is delivered or dropped, not forwarded')),
              deliver: () => this.send(res, entry, answer),
              drop: () => this.resetClient(res, entry),
            });
          }
          return;
        }
      }
    } catch (error) {
      // The provider could not be reached: say so like a gateway would.
      this.send(res, entry, { status: 502, headers: { 'content-type': 'text/plain' }, body: Buffer.from(`proxy: ${(error as Error).message}`) });
    }
  }

  private hold(exchange: HeldExchange): void {
    this.held.push(exchange);
    for (const wake of [...this.heldWaiters]) {
      this.heldWaiters.delete(wake);
      wake();
    }
  }

  /** Sends the request on to the provider and reads its whole answer. */
  private forward(req: http.IncomingMessage, body: Buffer, entry: ProxyLogEntry): Promise<ProviderAnswer> {
    const target = this.target;
    if (!target) return Promise.reject(new Error('no target'));
    entry.forwarded = true;
    return new Promise<ProviderAnswer>((resolve, reject) => {
      const upstream = http.request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: { ...withoutHopHeaders(req.headers), 'content-length': String(body.length) },
          agent: this.upstream,
        },
        (answer) => {
          readAll(answer).then((buffer) => {
            entry.providerStatus = answer.statusCode;
            if (entry.endpoint === 'bc-authorize' && answer.statusCode === 200 && entry.bindingMessage) {
              try {
                const authReqId = (JSON.parse(buffer.toString()) as { auth_req_id?: unknown }).auth_req_id;
                if (typeof authReqId === 'string') {
                  entry.authReqId = authReqId;
                  this.authReqBindings.set(authReqId, entry.bindingMessage);
                }
              } catch {
                // not JSON: nothing to remember
              }
            }
            resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: buffer });
          }, reject);
        },
      );
      upstream.once('error', reject);
      upstream.end(body);
    });
  }

  private send(res: http.ServerResponse, entry: ProxyLogEntry, answer: { status: number; headers: http.IncomingHttpHeaders | http.OutgoingHttpHeaders; body: Buffer }): void {
    if (res.destroyed || entry.clientGone) return;
    const headers = withoutHopHeaders(answer.headers as http.IncomingHttpHeaders);
    headers['content-length'] = String(answer.body.length);
    if ((answer.headers as http.IncomingHttpHeaders).connection === 'close') headers.connection = 'close';
    res.writeHead(answer.status, headers);
    res.end(answer.body);
    entry.outcome = answer.status;
    entry.answeredAtMs = Date.now();
  }

  private resetClient(res: http.ServerResponse, entry: ProxyLogEntry): void {
    if (entry.outcome === undefined) {
      entry.outcome = 'reset';
      entry.answeredAtMs = Date.now();
    }
    resetSocket(res.socket);
  }
}

/** A dedicated local provider behind its own fault proxy: the worker's issuer is `proxy.url`. */
export interface ProxiedProvider {
  proxy: FaultProxy;
  provider: StartedProvider;
  /** The issuer the worker is configured with: the proxy. */
  issuer: string;
  /** The provider itself, for the user's device and GET /dev/log (never faulted). */
  providerUrl: string;
  close(): Promise<void>;
}

/**
 * Starts a fault proxy, then a provider that calls itself by the proxy's URL (IDP_ISSUER) while listening on its own
 * port, then points the proxy at that port.
 */
export async function startProxiedProvider(env: Record<string, string> = {}): Promise<ProxiedProvider> {
  const proxy = await FaultProxy.start();
  const providerPort = await freePort();
  let provider: StartedProvider;
  try {
    provider = await startProvider({ IDP_ISSUER: proxy.url, IDP_PORT: String(providerPort), IDP_POLL_INTERVAL: '1', ...env });
  } catch (error) {
    await proxy.close();
    throw error;
  }
  const providerUrl = `http://127.0.0.1:${providerPort}`;
  proxy.setTarget(providerUrl);
  return {
    proxy,
    provider,
    issuer: proxy.url,
    providerUrl,
    async close() {
      await proxy.close();
      await provider.kill('SIGTERM');
    },
  };
}

/** A proxied provider with a poll interval of 1 s, and the user's device on it (which talks to it directly). */
export async function openProxiedProvider(): Promise<{ px: ProxiedProvider; proxy: FaultProxy; device: Device }> {
  const px = await startProxiedProvider({ IDP_POLL_INTERVAL: '1' });
  return { px, proxy: px.proxy, device: new Device(px.providerUrl) };
}

function endpointOf(method: string, pathname: string): Endpoint {
  if (method === 'GET' && pathname === '/.well-known/openid-configuration') return 'discovery';
  if (method === 'POST' && pathname === '/bc-authorize') return 'bc-authorize';
  if (method === 'POST' && pathname === '/oauth/token') return 'token';
  return 'other';
}

const HOP_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'proxy-connection', 'upgrade', 'te', 'trailer']);

function withoutHopHeaders(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_HEADERS.has(name)) out[name] = value;
  return out;
}

/** A TCP reset (RST), not a graceful close: the client sees ECONNRESET. */
function resetSocket(socket: Socket | null): void {
  if (!socket || socket.destroyed) return;
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A port nothing listens on right now (the OS picks it; it is free again once this returns). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The one outcome an agent sees: tokens, or one typed failure. */
export type ApprovalOutcome =
  | { kind: 'approved'; result: ApprovalResult }
  | { kind: 'failed'; type: string; message: string; details: unknown[] };

/** The approval's outcome, or an error saying it hung (did not end within `timeoutMs`). */
export async function outcomeWithin(approvals: ApprovalClient, workflowId: string, timeoutMs: number): Promise<ApprovalOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`approval ${workflowId} did not end within ${timeoutMs} ms (hang)`)), timeoutMs);
  });
  const outcome = approvals.result(workflowId).then(
    (result): ApprovalOutcome => ({ kind: 'approved', result }),
    (error: unknown): ApprovalOutcome => {
      if (error instanceof ApprovalFailedError) return { kind: 'failed', type: error.type, message: error.message, details: error.details };
      throw error;
    },
  );
  try {
    return await Promise.race([outcome, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** The `error` member of an OAuth JSON error answer, if it is one. */
function oauthError(body: Buffer): string | undefined {
  try {
    const json = JSON.parse(body.toString()) as { error?: unknown };
    return typeof json.error === 'string' ? json.error : undefined;
  } catch {
    return undefined;
  }
}

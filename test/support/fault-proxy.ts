/**
 * A scriptable HTTP fault proxy between the worker and the local CIBA provider (loopback only, tests only).
 *
 * The worker is configured with the proxy's URL as its issuer. The provider is started with `IDP_ISSUER` set to that
 * same URL (see proxied-provider.ts), so its discovery document, its endpoints and the `iss` of its ID tokens all
 * name the proxy: nothing has to be rewritten, and oauth4webapi's issuer checks pass exactly as they would against a
 * real provider behind a gateway. The test itself talks to the provider directly (device API, GET /dev/log), so its
 * own requests are never faulted.
 *
 * Faults are scripted per request with rules (fault-rules.ts) and applied by apply-fault.ts. Every request that
 * reached the proxy is in `proxy.log` (proxy-log.ts), with what the client got.
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { applyFault, type Exchange } from './apply-fault';
import {
  endpointOf,
  FaultRules,
  type ArmedRule,
  type Endpoint,
  type FaultRule,
  type ProxiedRequest,
} from './fault-rules';
import { HeldExchanges, type HeldExchange } from './held-exchanges';
import { forwardRequest, readAll, resetClient, sendAnswer, sendTruncated, type ProviderAnswer } from './http-relay';
import type { ProxyLogEntry } from './proxy-log';
import { HANG_DETECTOR_MS } from './wait';

export class FaultProxy {
  readonly log: ProxyLogEntry[] = [];
  private readonly rules = new FaultRules();
  private readonly held = new HeldExchanges();
  private readonly sockets = new Set<Socket>();
  private readonly upstream = new http.Agent({ keepAlive: false });
  private readonly authReqBindings = new Map<string, string>();
  private server?: http.Server;
  private upTimer?: NodeJS.Timeout;
  /** Down because of a go-down-after fault (until upTimer fires, or until up() / reset()). */
  private downByFault = false;
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
    return this.rules.arm(rule);
  }

  /** Disarms every rule, drops whatever is held, and comes back up if down. The log is kept. */
  reset(): void {
    this.rules.clear();
    this.held.dropAll();
    if (this.downByFault) {
      clearTimeout(this.upTimer);
      this.upTimer = undefined;
      this.downByFault = false;
      void this.listen();
    }
  }

  /** Log entries since `sinceMs` for `endpoint`. */
  entries(endpoint?: Endpoint, sinceMs = 0): ProxyLogEntry[] {
    return this.log.filter((e) => (endpoint === undefined || e.endpoint === endpoint) && e.atMs >= sinceMs);
  }

  /** Waits until the log satisfies `predicate`. */
  async waitForLog(
    predicate: (log: ProxyLogEntry[]) => boolean,
    timeoutMs = HANG_DETECTOR_MS,
    what = 'the expected requests',
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.log)) {
      if (Date.now() > deadline) {
        throw new Error(`proxy: no ${what} after ${timeoutMs} ms; log: ${JSON.stringify(this.log.slice(-10))}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Waits for a held request or answer (oldest first) and hands it to the test. */
  async waitForHeld(
    timeoutMs = HANG_DETECTOR_MS,
    predicate: (held: HeldExchange) => boolean = () => true,
  ): Promise<HeldExchange> {
    return this.held.take(timeoutMs, predicate, () => `log: ${JSON.stringify(this.log.slice(-10))}`);
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
    clearTimeout(this.upTimer);
    this.upTimer = undefined;
    this.downByFault = false;
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

  /** Stops listening (open connections stay open) and listens again after `downMs`, or once up() is called. */
  private goDown(downMs?: number): void {
    const server = this.server;
    this.server = undefined;
    server?.close();
    this.downByFault = true;
    if (downMs === undefined) return;
    this.upTimer = setTimeout(() => {
      this.upTimer = undefined;
      this.downByFault = false;
      void this.listen();
    }, downMs);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readAll(req).catch(() => undefined);
    if (body === undefined) return; // the client went away mid-request
    const url = new URL(req.url ?? '/', this.url);
    const endpoint = endpointOf(req.method ?? 'GET', url.pathname);
    const form = new URLSearchParams(
      req.headers['content-type']?.startsWith('application/x-www-form-urlencoded') ? body.toString() : '',
    );
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
    let clientClosed!: () => void;
    const clientGone = new Promise<void>((resolve) => (clientClosed = resolve));
    const onClose = () => {
      if (entry.outcome === undefined && !res.writableFinished) {
        entry.clientGone = true;
        entry.outcome ??= 'no-answer';
        clientClosed();
      }
    };
    // The connection may have closed while the body was read to its end (then 'close' was emitted already).
    if (req.socket.destroyed) onClose();
    else res.once('close', onClose);

    const request: ProxiedRequest = { endpoint, method: entry.method, path: entry.path, form };
    const exchange: Exchange = {
      entry,
      forward: () => this.forward(req, body, entry),
      send: (answer) => sendAnswer(res, entry, answer),
      reset: () => resetClient(res, entry),
      truncate: (answer) => sendTruncated(res, entry, answer),
      hold: (held) => this.held.add(held),
      clientGone: () => clientGone,
      goDown: (downMs) => this.goDown(downMs),
    };
    try {
      const rule = this.rules.find(request);
      if (rule) await applyFault(rule, exchange);
      else exchange.send(await exchange.forward());
    } catch (error) {
      // The provider could not be reached: say so like a gateway would.
      exchange.send({
        status: 502,
        headers: { 'content-type': 'text/plain' },
        body: Buffer.from(`proxy: ${(error as Error).message}`),
      });
    }
  }

  /** Sends the request on to the provider; remembers which binding message an auth_req_id belongs to. */
  private async forward(req: http.IncomingMessage, body: Buffer, entry: ProxyLogEntry): Promise<ProviderAnswer> {
    if (!this.target) throw new Error('no target');
    entry.forwarded = true;
    const answer = await forwardRequest(this.target, this.upstream, req, body);
    entry.providerStatus = answer.status;
    if (entry.endpoint === 'bc-authorize' && answer.status === 200 && entry.bindingMessage) {
      try {
        const authReqId = (JSON.parse(answer.body.toString()) as { auth_req_id?: unknown }).auth_req_id;
        if (typeof authReqId === 'string') {
          entry.authReqId = authReqId;
          this.authReqBindings.set(authReqId, entry.bindingMessage);
        }
      } catch {
        // not JSON: nothing to remember
      }
    }
    return answer;
  }
}

/**
 * A client-credentials token source (RFC 6749 section 4.4): asks an authorization server's token endpoint for an
 * access token with a client id and secret, keeps it, and asks again before it expires. For a long-running process
 * that presents a bearer token to Temporal (the server's JWT authorizer, docs/cluster-auth.md): the connection gets
 * the first token when it connects and every later one through `setApiKey` (both `Connection` of
 * `@temporalio/client` and `NativeConnection` of `@temporalio/worker` have it).
 *
 * Node only (fetch, timers): never for workflow code.
 */

export interface ClientCredentialsOptions {
  /** The token endpoint, e.g. `https://tenant.auth0.com/oauth/token`. */
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  /** Sent as `audience` (Auth0's name for the API); unset: the authorization server's default for the client. */
  audience?: string;
  /** Sent as `scope` when set. */
  scope?: string;
  /** Ask for a new token this long before the current one expires, at the latest (default: a quarter of its life). */
  refreshBeforeMs?: number;
  /** For tests. */
  fetch?: typeof fetch;
  /** Where a failed background refresh is reported (default: a process warning). */
  onError?: (error: Error) => void;
}

/** Anything whose bearer token can be replaced: `Connection` and `NativeConnection` both can. */
export interface ApiKeyHolder {
  setApiKey(apiKey: string): unknown;
}

interface Held {
  token: string;
  /** Epoch ms. */
  expiresAt: number;
  /** Epoch ms: when to ask for the next one. */
  refreshAt: number;
}

const MIN_RETRY_MS = 1_000;
const MAX_RETRY_MS = 60_000;
const REQUEST_TIMEOUT_MS = 15_000;

export class ClientCredentialsTokenSource {
  private held?: Held;
  private inFlight?: Promise<Held>;
  private timer?: NodeJS.Timeout;
  private retryMs = MIN_RETRY_MS;
  private readonly holders = new Set<WeakRef<ApiKeyHolder>>();

  constructor(private readonly options: ClientCredentialsOptions) {
    const url = new URL(options.tokenUrl);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
      throw new TypeError(`the token URL must be https (http only on loopback), got ${url.origin}`);
    }
  }

  /** A token that is valid now: the one held, or a new one once it is due for refresh. */
  async token(): Promise<string> {
    const held = this.held;
    if (held && Date.now() < held.refreshAt) return held.token;
    if (held && Date.now() < held.expiresAt - 5_000) {
      void this.refresh().catch(() => undefined); // still valid: refresh in the background
      return held.token;
    }
    return (await this.refresh()).token;
  }

  /**
   * Gives `holder` every new token (`setApiKey`) until it is garbage-collected or refuses one (closed). Starts the
   * background refresh, which never keeps the process alive.
   */
  keepFresh(holder: ApiKeyHolder): void {
    this.holders.add(new WeakRef(holder));
    this.schedule();
  }

  /** Stops the background refresh and forgets every holder. */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.holders.clear();
  }

  private refresh(): Promise<Held> {
    this.inFlight ??= this.request()
      .then((held) => {
        this.held = held;
        this.retryMs = MIN_RETRY_MS;
        this.hand(held.token);
        return held;
      })
      .finally(() => {
        this.inFlight = undefined;
        this.schedule();
      });
    return this.inFlight;
  }

  private hand(token: string): void {
    for (const ref of this.holders) {
      const holder = ref.deref();
      if (!holder) {
        this.holders.delete(ref);
        continue;
      }
      try {
        const result = holder.setApiKey(token);
        if (result instanceof Promise) result.catch(() => this.holders.delete(ref));
      } catch {
        this.holders.delete(ref); // closed
      }
    }
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.holders.size === 0 || this.inFlight) return;
    const delay = this.held ? Math.max(0, this.held.refreshAt - Date.now()) : 0;
    this.timer = setTimeout(() => {
      this.refresh().catch((error: unknown) => {
        const err = error instanceof Error ? error : new Error(String(error));
        (this.options.onError ?? ((e) => process.emitWarning(e.message, 'TemporalTokenWarning')))(err);
        // Try again soon (backing off), while the token held may still be valid.
        if (this.held) this.held.refreshAt = Date.now() + this.retryMs;
        this.retryMs = Math.min(MAX_RETRY_MS, this.retryMs * 2);
        this.schedule();
      });
    }, delay);
    this.timer.unref();
  }

  private async request(): Promise<Held> {
    const { tokenUrl, clientId, clientSecret, audience, scope } = this.options;
    const body = new URLSearchParams({ grant_type: 'client_credentials' });
    if (audience) body.set('audience', audience);
    if (scope) body.set('scope', scope);
    // RFC 6749 2.3.1: id and secret are form-encoded before Basic.
    const basic = Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString('base64');
    const started = Date.now();
    let response: Response;
    try {
      response = await (this.options.fetch ?? fetch)(tokenUrl, {
        method: 'POST',
        headers: {
          authorization: `Basic ${basic}`,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      throw new Error(`token request to ${new URL(tokenUrl).origin} failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const answer = (await response.json().catch(() => ({}))) as {
      access_token?: unknown;
      expires_in?: unknown;
      error?: unknown;
      error_description?: unknown;
    };
    if (!response.ok || typeof answer.access_token !== 'string' || answer.access_token === '') {
      // Never the body itself: it may hold a token.
      const why = typeof answer.error === 'string' ? `${answer.error}: ${String(answer.error_description ?? '')}` : '';
      throw new Error(`token request for client ${clientId} answered ${response.status} ${why}`.trim());
    }
    const lifetimeMs =
      (typeof answer.expires_in === 'number' && answer.expires_in > 0 ? answer.expires_in : 300) * 1000;
    const before = Math.min(this.options.refreshBeforeMs ?? lifetimeMs / 4, lifetimeMs / 2);
    return { token: answer.access_token, expiresAt: started + lifetimeMs, refreshAt: started + lifetimeMs - before };
  }
}

/**
 * Connects with `options`, presenting the source's token as the API key (the SDK sends `Authorization: Bearer`), and
 * keeps the connection's token fresh. Without a source, just connects.
 */
export async function connectWithToken<O extends { apiKey?: string }, C extends ApiKeyHolder>(
  options: O,
  source: ClientCredentialsTokenSource | undefined,
  connect: (options: O) => Promise<C>,
): Promise<C> {
  if (!source) return connect(options);
  const connection = await connect({ ...options, apiKey: await source.token() });
  source.keepFresh(connection);
  return connection;
}

function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, '+');
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/** Requests and answers the fault proxy holds (faults `hold` and `hold-response`) until the test decides. */
import type { ProviderAnswer } from './http-relay';
import type { ProxyLogEntry } from './proxy-log';

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

/** The exchanges held, oldest first, and the tests waiting for one. */
export class HeldExchanges {
  private readonly held: HeldExchange[] = [];
  private readonly waiters = new Set<() => void>();

  add(exchange: HeldExchange): void {
    this.held.push(exchange);
    for (const wake of [...this.waiters]) {
      this.waiters.delete(wake);
      wake();
    }
  }

  /** Waits for a held exchange that satisfies `predicate` and hands it over. `context` goes into the timeout error. */
  async take(
    timeoutMs: number,
    predicate: (held: HeldExchange) => boolean,
    context: () => string,
  ): Promise<HeldExchange> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.held.findIndex(predicate);
      if (index >= 0) return this.held.splice(index, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`proxy: nothing held after ${timeoutMs} ms; ${context()}`);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.waiters.add(done);
      });
    }
  }

  /** Drops (resets) everything held. */
  dropAll(): void {
    for (const held of this.held.splice(0)) held.drop();
  }
}

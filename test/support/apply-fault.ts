/** What each fault (fault-rules.ts) does to one exchange between the worker and the provider. */
import { appliesToAnswer, type RuleInUse } from './fault-rules';
import type { HeldExchange } from './held-exchanges';
import { HTML_PAGE, type Answer, type ProviderAnswer } from './http-relay';
import type { ProxyLogEntry } from './proxy-log';

/** One request at the proxy, and what can be done with it. */
export interface Exchange {
  readonly entry: ProxyLogEntry;
  /** Sends the request on to the provider and reads its whole answer. */
  forward(): Promise<ProviderAnswer>;
  /** Answers the client, if it is still there. */
  send(answer: Answer): void;
  /** Resets the client's connection. */
  reset(): void;
  /** Sends the answer's headers and half its body, then resets the connection. */
  truncate(answer: ProviderAnswer): void;
  /** Hands the exchange to the test (waitForHeld). */
  hold(held: HeldExchange): void;
  /** Resolves once the client has closed the connection without an answer (never, if it got one). */
  clientGone(): Promise<void>;
  /** Stops listening now, and listens again after `downMs` (without it: when the test says, `proxy.up()`). */
  goDown(downMs?: number): void;
}

export async function applyFault(inUse: RuleInUse, exchange: Exchange): Promise<void> {
  const { rule } = inUse;
  const { fault } = rule;
  const { entry } = exchange;
  const consume = () => {
    inUse.applied += 1;
    entry.fault = fault.kind;
  };

  switch (fault.kind) {
    case 'status': {
      consume();
      if (fault.forward) await exchange.forward();
      const json = JSON.stringify({
        error: 'temporarily_unavailable',
        error_description: `injected HTTP ${fault.status}`,
      });
      const [type, text] =
        fault.body === 'json'
          ? ['application/json', json]
          : fault.body === undefined || fault.body === 'html'
            ? ['text/html; charset=utf-8', HTML_PAGE]
            : ['text/plain', fault.body];
      const headers: Answer['headers'] = { 'content-type': type };
      if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
      exchange.send({ status: fault.status, headers, body: Buffer.from(text) });
      return;
    }
    case 'reset':
      consume();
      exchange.reset();
      return;
    case 'no-answer':
      consume();
      return; // the client gives up; the proxy resets it on close
    case 'malformed-json':
      consume();
      if (fault.forward) await exchange.forward();
      exchange.send({
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: Buffer.from('{"access_token": "eyJ'),
      });
      return;
    case 'html-200':
      consume();
      if (fault.forward) await exchange.forward();
      exchange.send({
        status: 200,
        headers: { 'content-type': 'text/html; charset=utf-8' },
        body: Buffer.from(HTML_PAGE),
      });
      return;
    case 'forward-after-client-gone':
      consume();
      await exchange.clientGone();
      await exchange.forward(); // nobody to answer: the client is gone
      return;
    case 'hold':
      consume();
      exchange.hold({
        stage: 'request',
        entry,
        forward: async () => exchange.send(await exchange.forward()),
        deliver: () => {
          throw new Error('a held request is forwarded or dropped, not delivered');
        },
        drop: () => exchange.reset(),
      });
      return;
    case 'go-down-after': {
      consume();
      const answer = await exchange.forward();
      // Stop listening before answering: by the time the client has the answer, its next connection is refused.
      exchange.goDown(fault.downMs);
      exchange.send({ ...answer, headers: { ...answer.headers, connection: 'close' } });
      return;
    }
    case 'edit-json':
    case 'drop-response':
    case 'truncate-body':
    case 'hold-response': {
      const answer = await exchange.forward();
      if (!appliesToAnswer(rule, answer)) {
        exchange.send(answer);
        return;
      }
      consume();
      if (fault.kind === 'edit-json') {
        const json = { ...(JSON.parse(answer.body.toString()) as Record<string, unknown>), ...fault.set };
        for (const field of fault.remove ?? []) delete json[field];
        exchange.send({ ...answer, body: Buffer.from(JSON.stringify(json)) });
      } else if (fault.kind === 'drop-response') {
        exchange.reset();
      } else if (fault.kind === 'truncate-body') {
        exchange.truncate(answer);
      } else {
        exchange.hold({
          stage: 'response',
          entry,
          answer,
          forward: () => Promise.reject(new Error('a held answer is delivered or dropped, not forwarded')),
          deliver: () => exchange.send(answer),
          drop: () => exchange.reset(),
        });
      }
      return;
    }
  }
}

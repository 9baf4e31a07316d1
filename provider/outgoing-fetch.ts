import * as fs from 'node:fs';
import * as tls from 'node:tls';

import type { Configuration } from 'oidc-provider';
import { Agent, fetch as undiciFetch } from 'undici';

export type ProviderFetch = NonNullable<Configuration['fetch']>;

export interface OutgoingFetch {
  /** For oidc-provider's `fetch` option. */
  fetch: ProviderFetch;
  close(): Promise<void>;
}

/**
 * The provider's outgoing HTTP (its only outgoing requests are CIBA pings to the configured notification endpoint:
 * the clients are static, with inline keys). oidc-provider (>= 9.7) hands its fetch a dispatcher that refuses
 * loopback and private addresses, so a ping to a client on this machine could never arrive; this dev provider
 * replaces that dispatcher with its own undici Agent, which connects to loopback and trusts `extraCa` (PEM, one or
 * more certificates) in addition to Node's CA store. Without `extraCa` it verifies with Node's default CAs.
 */
export function outgoingFetch({ extraCa }: { extraCa?: string } = {}): OutgoingFetch {
  const agent = new Agent({
    connect: extraCa === undefined ? {} : { ca: [...tls.rootCertificates, ...nodeExtraCaCerts(), extraCa] },
  });
  const fetch: ProviderFetch = async (input, init) => {
    // oidc-provider sets method, headers (a Headers instance), body, redirect, signal and its own dispatcher.
    const { dispatcher: _theirs, headers, ...rest } = (init ?? {}) as RequestInit & { dispatcher?: unknown };
    const response = await undiciFetch(input instanceof Request ? input.url : input, {
      ...(rest as Parameters<typeof undiciFetch>[1]),
      headers: Object.fromEntries(new Headers(headers).entries()),
      dispatcher: agent,
    });
    return response as unknown as Response;
  };
  return { fetch, close: () => agent.close() };
}

/** The certificates of NODE_EXTRA_CA_CERTS, which an explicit `ca` would otherwise drop. */
function nodeExtraCaCerts(): string[] {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  if (!file) return [];
  try {
    return [fs.readFileSync(file, 'utf8')];
  } catch {
    return [];
  }
}

/**
 * The fault proxy's log: every request that reached it, with what the client got. What reached the provider is the
 * provider's own log (GET /dev/log): faults injected before forwarding never reach it.
 */
import type { Endpoint, FaultKind } from './fault-rules';

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

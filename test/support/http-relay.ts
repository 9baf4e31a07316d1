/** The fault proxy's HTTP plumbing: send a request on to the provider, answer the client, or reset its connection. */
import * as http from 'node:http';
import type { Socket } from 'node:net';
import type { ProxyLogEntry } from './proxy-log';

export interface ProviderAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** An answer for the client: the provider's, or one the proxy made up. */
export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders | http.OutgoingHttpHeaders;
  body: Buffer;
}

export const HTML_PAGE =
  '<!doctype html><html><head><title>Service unavailable</title></head><body><h1>Oops</h1><p>Try again later.</p></body></html>';

const HOP_HEADERS = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'proxy-connection',
  'upgrade',
  'te',
  'trailer',
]);

/** Sends the request (its body already read) on to `target` and reads the whole answer. */
export function forwardRequest(
  target: URL,
  agent: http.Agent,
  req: http.IncomingMessage,
  body: Buffer,
): Promise<ProviderAnswer> {
  return new Promise<ProviderAnswer>((resolve, reject) => {
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...withoutHopHeaders(req.headers), 'content-length': String(body.length) },
        agent,
      },
      (answer) => {
        readAll(answer).then(
          (buffer) => resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: buffer }),
          reject,
        );
      },
    );
    upstream.once('error', reject);
    upstream.end(body);
  });
}

/** Answers the client (unless it is gone) and logs what it got. */
export function sendAnswer(res: http.ServerResponse, entry: ProxyLogEntry, answer: Answer): void {
  if (res.destroyed || entry.clientGone) return;
  const headers = withoutHopHeaders(answer.headers as http.IncomingHttpHeaders);
  headers['content-length'] = String(answer.body.length);
  if ((answer.headers as http.IncomingHttpHeaders).connection === 'close') headers.connection = 'close';
  res.writeHead(answer.status, headers);
  res.end(answer.body);
  entry.outcome = answer.status;
  entry.answeredAtMs = Date.now();
}

/** Sends the answer's headers and half its body, then resets the connection. */
export function sendTruncated(res: http.ServerResponse, entry: ProxyLogEntry, answer: ProviderAnswer): void {
  const headers = withoutHopHeaders(answer.headers);
  headers['content-length'] = String(answer.body.length);
  res.writeHead(answer.status, headers);
  entry.outcome = 'reset';
  entry.answeredAtMs = Date.now();
  // Reset once the headers and the first half have left: the write's callback runs when they are written to the
  // socket (handed to the kernel, which sends them on ahead of the reset), however long that takes.
  const socket = res.socket;
  res.write(answer.body.subarray(0, Math.floor(answer.body.length / 2)), () => resetSocket(socket));
}

/** Resets the client's connection; logs that as what it got, unless it already got something. */
export function resetClient(res: http.ServerResponse, entry: ProxyLogEntry): void {
  if (entry.outcome === undefined) {
    entry.outcome = 'reset';
    entry.answeredAtMs = Date.now();
  }
  resetSocket(res.socket);
}

export async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function withoutHopHeaders(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers))
    if (value !== undefined && !HOP_HEADERS.has(name)) out[name] = value;
  return out;
}

/** A TCP reset (RST), not a graceful close: the client sees ECONNRESET. */
function resetSocket(socket: Socket | null): void {
  if (!socket || socket.destroyed) return;
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

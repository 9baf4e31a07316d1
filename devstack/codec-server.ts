/**
 * A codec server for the Temporal Web UI: the UI sends encrypted payloads here to show them decrypted
 * (POST /decode) and encrypts what it sends (POST /encode). Whoever can call it reads every payload in clear, so it
 * answers only the UI's browser origin, only under its own Host names (a DNS-rebinding page arrives under the
 * attacker's name), only bodies up to a limit, and, in `jwt` mode, only callers with a valid access token.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { z } from 'zod';
import { ASYMMETRIC_JWS_ALGS } from '../common/jws';

/**
 * Who may call. `local`: no credentials, so loopback only (the local stack). `jwt`: the `Authorization: Bearer`
 * access token that a Temporal UI with login sends (`codec.passAccessToken`), checked against the issuer's JWKS.
 */
export type CodecServerAuth = { mode: 'local' } | { mode: 'jwt'; issuer: string; jwksUrl: URL; audience?: string };

/** Settings of {@link startCodecServer}. */
export interface CodecServerOptions {
  auth: CodecServerAuth;
  /** Browser origins of the Temporal UI, e.g. `http://127.0.0.1:8233`. Every other Origin, or none, gets 403. */
  uiOrigins: string[];
  /** Address to listen on; default 127.0.0.1. Anything but loopback requires `jwt` mode. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** `Host` header values clients use (`name:port`); default: the listening address and, on loopback, localhost. */
  allowedHosts?: string[];
  /** Largest request body; default 1 MiB. */
  maxBodyBytes?: number;
  /** Answer POST /encode (the UI encrypts signal and workflow inputs it sends); default true. */
  encode?: boolean;
}

/** A listening codec server. */
export interface RunningCodecServer {
  url: string;
  stop(): Promise<void>;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
const JWT_ALGORITHMS: string[] = [...ASYMMETRIC_JWS_ALGS];

/** True for 127.0.0.0/8, ::1 and `localhost`: addresses no other machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/** True for 0.0.0.0 and ::, which listen on every interface and so name no Host of their own. */
export function isWildcardHost(host: string): boolean {
  return ['0.0.0.0', '::', '[::]'].includes(host);
}

const JSONPayloadSchema = z.object({
  metadata: z.record(z.string(), z.string()).nullish(),
  data: z.string().nullish(),
});
const BodySchema = z.object({ payloads: z.array(JSONPayloadSchema) });
type JSONPayload = z.infer<typeof JSONPayloadSchema>;

const fromJSON = ({ metadata, data }: JSONPayload): Payload => ({
  metadata: metadata
    ? Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')]))
    : undefined,
  data: data ? Buffer.from(data, 'base64') : undefined,
});

const toJSON = ({ metadata, data }: Payload): JSONPayload => ({
  metadata: metadata
    ? Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, Buffer.from(v).toString('base64')]))
    : undefined,
  data: data ? Buffer.from(data).toString('base64') : undefined,
});

/** Starts the codec server; rejects a non-loopback `host` unless `auth.mode` is `jwt`. */
export async function startCodecServer(codec: PayloadCodec, options: CodecServerOptions): Promise<RunningCodecServer> {
  const host = options.host ?? '127.0.0.1';
  if (options.auth.mode !== 'jwt' && !isLoopbackHost(host)) {
    throw new Error(
      `codec server: refusing to listen on ${host} without credentials; use a loopback address or jwt mode`,
    );
  }
  if (isWildcardHost(host) && !options.allowedHosts?.length) {
    throw new Error(`codec server: listening on ${host} needs the Host names clients use (allowedHosts)`);
  }
  const origins = new Set(options.uiOrigins);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const verify = options.auth.mode === 'jwt' ? bearerVerifier(options.auth) : undefined;
  let hosts = new Set<string>(); // filled once listening: the default names carry the bound port

  const server = http.createServer({ requestTimeout: 30_000 }, (req, res) => {
    void handle(req, res).catch(() => refuse(res, 500, 'internal error'));
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!hosts.has(req.headers.host?.toLowerCase() ?? '')) return refuse(res, 421, 'unknown Host');
    const origin = req.headers.origin;
    if (!origin || !origins.has(origin)) return refuse(res, 403, 'Origin not allowed');
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('vary', 'Origin');
    const { pathname } = new URL(req.url ?? '/', 'http://codec'); // the UI adds a query (?preserveStorageRefs=true)
    const operation =
      pathname === '/decode' ? 'decode' : pathname === '/encode' && options.encode !== false ? 'encode' : undefined;
    if (!operation) return refuse(res, 404, 'not found');
    if (req.method === 'OPTIONS') {
      res.setHeader('access-control-allow-methods', 'POST');
      // The UI sends headers of its own (x-namespace, caller-type, authorization): the origin is trusted by now.
      res.setHeader('access-control-allow-headers', req.headers['access-control-request-headers'] ?? 'content-type');
      return void res.writeHead(204).end();
    }
    if (req.method !== 'POST') return refuse(res, 405, 'method not allowed', { allow: 'POST, OPTIONS' });
    if (verify && !(await verify(req.headers.authorization))) {
      const error = req.headers.authorization ? ', error="invalid_token"' : '';
      return refuse(res, 401, 'access token required', { 'www-authenticate': `Bearer realm="temporal-codec"${error}` });
    }
    const body = await readBody(req, maxBodyBytes);
    if (body === undefined) return refuse(res, 413, `body larger than ${maxBodyBytes} bytes`);
    let payloads: Payload[];
    try {
      payloads = BodySchema.parse(JSON.parse(body.toString('utf8'))).payloads.map(fromJSON);
    } catch {
      return refuse(res, 400, 'expected {"payloads": [{"metadata": {...}, "data": "base64"}]}');
    }
    try {
      const result = await codec[operation](payloads);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ payloads: result.map(toJSON) }));
    } catch (error) {
      refuse(res, 400, (error as Error).message);
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  hosts = new Set(
    (options.allowedHosts?.length
      ? options.allowedHosts
      : [
          `${urlHost}:${port}`,
          ...(isLoopbackHost(host) ? [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`] : []),
        ]
    ).map((h) => h.toLowerCase()),
  );
  return {
    url: `http://${urlHost}:${port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Ends a refused request. `Connection: close`, so Node does not read the rest of an unwanted body to reuse the socket. */
function refuse(res: http.ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.destroy();
  res
    .writeHead(status, { ...headers, 'content-type': 'application/json', connection: 'close' })
    .end(JSON.stringify({ error: message }));
}

/** The body, or undefined as soon as it is known to exceed `limit` (the rest is then not read). */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | undefined> {
  if (Number(req.headers['content-length'] ?? 0) > limit) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length; // counted as it arrives: a chunked body has no Content-Length
      if (size <= limit) return void chunks.push(chunk);
      // Paused, not destroyed: the socket must stay open long enough to carry the 413.
      req.off('data', onData).pause();
      resolve(undefined);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

/** Checks an `Authorization: Bearer` JWT: signature (issuer's JWKS), iss, exp (required), and aud when configured. */
function bearerVerifier(
  auth: Extract<CodecServerAuth, { mode: 'jwt' }>,
): (header: string | undefined) => Promise<boolean> {
  const jwks = createRemoteJWKSet(auth.jwksUrl);
  return async (header) => {
    const token = /^Bearer +([\w.~+/-]+=*)$/i.exec(header ?? '')?.[1];
    if (!token) return false;
    try {
      await jwtVerify(token, jwks, {
        issuer: auth.issuer,
        audience: auth.audience,
        requiredClaims: ['exp'],
        algorithms: JWT_ALGORITHMS, // never a symmetric (HS*) algorithm: the JWKS is public
        clockTolerance: 30,
      });
      return true;
    } catch {
      return false;
    }
  };
}

/**
 * A codec server for the Temporal Web UI: the UI sends encrypted payloads here to show them decrypted
 * (POST /decode) and, when turned on, encrypts what it sends (POST /encode). Whoever can call it reads every payload
 * in clear, so it answers only the UI's browser origin, only under its own Host names (a DNS-rebinding page arrives
 * under the attacker's name), only bodies up to a limit, and, in `jwt` mode, only callers with an access token for
 * its own audience. /encode is off unless enabled: whoever can encode can make an input the worker accepts, and so
 * make a user's device ask for anything.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { createRemoteJWKSet } from 'jose';
import { z } from 'zod';
import { AccessTokenError, bearerToken, verifyAccessToken, wwwAuthenticate } from '../auth/access-token';

/**
 * Who may call. `local`: no credentials, so loopback only (the local stack). `jwt`: the `Authorization: Bearer`
 * access token that a Temporal UI with login sends (`codec.passAccessToken`), verified by auth/access-token.ts: an
 * access token (`typ: at+jwt`, or `accessTokenClaim` for issuers that do not type them) for `audience`, from
 * `issuer`, signed by a key of its JWKS, not expired, with every `requiredScopes`. ID tokens are refused.
 */
export type CodecServerAuth =
  | { mode: 'local' }
  | {
      mode: 'jwt';
      issuer: string;
      jwksUrl: URL;
      /** This codec server's audience (required): without it, any token of the issuer would read every payload. */
      audience: string;
      /** For issuers whose access tokens are not typed `at+jwt`: a claim only their access tokens carry. */
      accessTokenClaim?: { name: string; value: string };
      requiredScopes?: string[];
    };

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
  /**
   * Answer POST /encode (the UI encrypts the inputs of the signals and workflows it starts); default false: a
   * refused /encode answers 403. Whoever may call /encode can make inputs the worker accepts.
   */
  encode?: boolean;
}

/** A listening codec server. */
export interface RunningCodecServer {
  url: string;
  stop(): Promise<void>;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
const REALM = 'temporal-codec';
/** What a refused POST /encode says, with how to turn it on. */
export const ENCODE_DISABLED =
  'POST /encode is turned off: encoding lets its caller make workflow inputs the worker accepts. To encode the ' +
  'inputs of signals and workflows started from the Temporal UI, start the codec server with CODEC_SERVER_ENCODE=true';

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
  if (options.auth.mode === 'jwt' && !options.auth.audience) {
    throw new Error('codec server: jwt mode needs the audience of its access tokens (CODEC_SERVER_JWT_AUDIENCE)');
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
    const operation = pathname === '/decode' ? 'decode' : pathname === '/encode' ? 'encode' : undefined;
    if (!operation) return refuse(res, 404, 'not found');
    if (req.method === 'OPTIONS') {
      res.setHeader('access-control-allow-methods', 'POST');
      // The UI sends headers of its own (x-namespace, caller-type, authorization): the origin is trusted by now.
      res.setHeader('access-control-allow-headers', req.headers['access-control-request-headers'] ?? 'content-type');
      return void res.writeHead(204).end();
    }
    if (req.method !== 'POST') return refuse(res, 405, 'method not allowed', { allow: 'POST, OPTIONS' });
    if (verify) {
      const refusal = await verify(req.headers.authorization);
      if (refusal) return refuse(res, refusal.status, refusal.message, refusal.headers);
    }
    if (operation === 'encode' && options.encode !== true) return refuse(res, 403, ENCODE_DISABLED);
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

/** Why a request's bearer token is refused (status, message, WWW-Authenticate), or undefined when it is accepted. */
type Refusal = { status: number; message: string; headers: Record<string, string> };

/** Checks the `Authorization: Bearer` access token with auth/access-token.ts; the JWKS is fetched once and cached. */
function bearerVerifier(
  auth: Extract<CodecServerAuth, { mode: 'jwt' }>,
): (header: string | undefined) => Promise<Refusal | undefined> {
  const jwks = createRemoteJWKSet(auth.jwksUrl);
  return async (header) => {
    const token = bearerToken(header);
    if (!token) {
      // No token, or not a bearer one: a challenge without an error code (RFC 6750 Section 3.1).
      return {
        status: 401,
        message: 'access token required',
        headers: { 'www-authenticate': wwwAuthenticate({ realm: REALM }) },
      };
    }
    try {
      await verifyAccessToken(token, {
        issuer: auth.issuer,
        audience: auth.audience,
        jwks,
        acceptedTypes: ['at+jwt'],
        accessTokenClaim: auth.accessTokenClaim,
        requiredScopes: auth.requiredScopes,
      });
      return undefined;
    } catch (error) {
      if (!(error instanceof AccessTokenError)) {
        return {
          status: 503,
          message: "cannot check access tokens now: the issuer's keys are unavailable",
          headers: {} as Record<string, string>,
        };
      }
      const challenge = wwwAuthenticate({ realm: REALM, error });
      return {
        status: error.status,
        message: `${error.code}: ${error.description}`,
        headers: { 'www-authenticate': challenge },
      };
    }
  };
}

/**
 * The Streamable HTTP transport, stateless: each POST /mcp is served by a fresh `McpServer` for the caller its bearer
 * token names (mcp/auth.ts), over the same Temporal, so any instance answers any request and a restart loses nothing
 * (tasks live in Temporal: mcp/task-store.ts). GET /.well-known/oauth-protected-resource[/mcp]: RFC 9728 metadata.
 *
 * A 2026-07-28 client's `MCP-Protocol-Version: 2026-07-28` is served as 2025-11-25 by the SDK's transport (which only
 * knows versions up to it), so that its tasks-extension requests reach mcp/tasks-extension.ts.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import type { McpApprovals } from './approvals';
import { AccessTokenError, MissingTokenError, PROTECTED_RESOURCE_METADATA_PATH, type McpAuth } from './auth';
import { createMcpServer } from './server';

export const MCP_PATH = '/mcp';
const EXTENSION_PROTOCOL_VERSION = '2026-07-28';
const MAX_BODY_BYTES = 1_000_000;

export interface RunningMcpHttp {
  url: string;
  close(): Promise<void>;
}

export async function startMcpHttp(
  approvals: McpApprovals,
  auth: McpAuth,
  options: { host: string; port: number; log?: (line: string) => void },
): Promise<RunningMcpHttp> {
  const log = options.log ?? ((line: string) => console.error(line));
  const server = http.createServer((req, res) => {
    serve(req, res).catch((error: unknown) => {
      log(`ciba mcp: ${req.method} ${req.url}: ${(error as Error).message}`);
      if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
      else res.end();
    });
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (
      req.method === 'GET' &&
      (path === PROTECTED_RESOURCE_METADATA_PATH || path === `${PROTECTED_RESOURCE_METADATA_PATH}${MCP_PATH}`)
    ) {
      return sendJson(res, 200, auth.metadata());
    }
    if (path !== MCP_PATH) return sendJson(res, 404, { error: 'not_found' });

    let caller;
    try {
      caller = await auth.authenticate(req.headers.authorization);
    } catch (error) {
      if (error instanceof MissingTokenError || error instanceof AccessTokenError) {
        const refused = error instanceof AccessTokenError ? error : undefined;
        res.setHeader('www-authenticate', auth.challenge(refused));
        return sendJson(res, refused?.status ?? 401, {
          error: refused?.code ?? 'invalid_request',
          error_description: refused?.description ?? 'a bearer access token is required',
        });
      }
      throw error; // the issuer's keys could not be read: 500
    }
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return sendJson(res, 405, { error: 'stateless server: POST only' });
    }
    servedAsLatest(req);
    const body = await readJson(req);
    if (body === undefined) return sendJson(res, 400, { error: 'the body must be JSON, at most 1 MB' });

    const mcp = createMcpServer(approvals, caller);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      void transport.close();
      void mcp.close();
    });
    await mcp.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.address.includes(':') ? `[${address.address}]` : address.address;
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}${MCP_PATH}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A 2026-07-28 request is handed to the SDK's transport as the latest version it knows. */
function servedAsLatest(req: IncomingMessage): void {
  if (req.headers['mcp-protocol-version'] !== EXTENSION_PROTOCOL_VERSION) return;
  req.headers['mcp-protocol-version'] = LATEST_PROTOCOL_VERSION;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() === 'mcp-protocol-version') req.rawHeaders[i + 1] = LATEST_PROTOCOL_VERSION;
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.setHeader('cache-control', 'no-store');
  res.end(JSON.stringify(body));
}

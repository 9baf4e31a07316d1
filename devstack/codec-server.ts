/**
 * A codec server for the Temporal Web UI of the local stack: the UI sends encrypted payloads here to show them
 * decrypted (POST /decode) and encrypts what it sends (POST /encode). It listens on loopback only and answers only
 * the UI's origin. In production, run your own behind your identity provider: whoever reaches it can read payloads.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';

interface JSONPayload {
  metadata?: Record<string, string> | null;
  data?: string | null;
}

const fromJSON = ({ metadata, data }: JSONPayload): Payload => ({
  metadata: metadata ? Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])) : undefined,
  data: data ? Buffer.from(data, 'base64') : undefined,
});

const toJSON = ({ metadata, data }: Payload): JSONPayload => ({
  metadata: metadata ? Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) : undefined,
  data: data ? Buffer.from(data).toString('base64') : undefined,
});

export interface RunningCodecServer {
  url: string;
  stop(): Promise<void>;
}

export async function startCodecServer(codec: PayloadCodec, uiOrigin: string, port = 0): Promise<RunningCodecServer> {
  const server = http.createServer((req, res) => {
    res.setHeader('Access-Control-Allow-Origin', uiOrigin);
    res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
    // The UI sends a few headers of its own (x-namespace, ...): allow what its preflight asks for.
    res.setHeader('Access-Control-Allow-Headers', req.headers['access-control-request-headers'] ?? 'content-type, x-namespace');
    if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    const { pathname } = new URL(req.url ?? '/', 'http://codec'); // the UI adds a query (?preserveStorageRefs=true)
    const operation = pathname === '/decode' ? 'decode' : pathname === '/encode' ? 'encode' : undefined;
    if (req.method !== 'POST' || !operation) return void res.writeHead(404).end();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      try {
        const { payloads } = JSON.parse(Buffer.concat(chunks).toString()) as { payloads: JSONPayload[] };
        const result = await codec[operation](payloads.map(fromJSON));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ payloads: result.map(toJSON) }));
      } catch (error) {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: (error as Error).message }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

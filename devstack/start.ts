/**
 * `npm start`: the whole local stack in one command — the Temporal dev server (with its Web UI, state kept in
 * .data/temporal), the local CIBA provider (with the device page, state kept in .data/idp) and an approval worker.
 * Prints the URLs and a sample request; Ctrl-C stops everything it started.
 *
 * Settings for the parts come from .env (created from .env.example on first start): the worker and the CLI read
 * the same file, so `npm run ciba` talks to this stack with no further setup.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { temporalSettings } from '../common/config';
import { startCodecServer } from './codec-server';
import { encodeEnabled } from './codec-server-config';
import { ENV_FILE, LOCAL_API_KEYS_FILE, localApiKey, prepareLocalConfig } from './local-config';
import { startTemporalDevServer, type RunningTemporal } from './temporal-server';
import { REPO_ROOT, startTsProcess, type ManagedProcess } from './ts-process';

const DATA_DIR = path.join(REPO_ROOT, '.data');
const LOG_DIR = path.join(DATA_DIR, 'logs');

async function main(): Promise<void> {
  prepareLocalConfig();
  process.loadEnvFile(ENV_FILE);

  const running: Array<{ stop(): Promise<void> }> = [];
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.error('\nstopping the local stack...');
    for (const part of running.reverse()) await part.stop().catch((e: unknown) => console.error(e));
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  try {
    // The Web UI shows payloads decrypted through a codec server on loopback that answers only the UI's origin.
    // It encrypts (POST /encode: inputs typed in the UI) only with CODEC_SERVER_ENCODE=true.
    const uiPort = optionalNumber(process.env.TEMPORAL_DEV_UI_PORT) ?? 8233;
    const codec = temporalSettings().dataConverter.payloadCodecs![0]!;
    const encode = encodeEnabled();
    const codecServer = await startCodecServer(codec, {
      auth: { mode: 'local' },
      uiOrigins: [`http://127.0.0.1:${uiPort}`, `http://localhost:${uiPort}`],
      port: optionalNumber(process.env.CODEC_SERVER_PORT) ?? 8234,
      encode,
    });
    running.push(codecServer);

    const temporal: RunningTemporal = await startTemporalDevServer({
      ip: process.env.TEMPORAL_DEV_IP,
      port: optionalNumber(process.env.TEMPORAL_DEV_PORT),
      uiPort,
      repoRoot: REPO_ROOT,
      extraArgs: ['--ui-codec-endpoint', codecServer.url],
    });
    running.push(temporal);

    const provider = await startTsProcess('idp', 'provider/main.ts', {}, /"event":"ready"/, {
      logDir: LOG_DIR,
      echo: true,
    });
    running.push(stoppable(provider));
    const ready = JSON.parse(provider.readyLine.slice(provider.readyLine.indexOf('{'))) as {
      issuer: string;
      deviceUrl: string;
    };

    const worker = await startTsProcess(
      'worker',
      'worker/main.ts',
      { TEMPORAL_ADDRESS: temporal.address, CIBA_ISSUER: ready.issuer },
      /ciba worker: task queue/,
      { logDir: LOG_DIR, echo: true },
    );
    running.push(stoppable(worker));
    // The worker says where its Prometheus endpoint is (or why it has none) before it says it is ready.
    const metricsLine = /ciba worker: (metrics at \S+|no metrics .*)/.exec(readFileSync(worker.logFile, 'utf8'));
    const metrics = metricsLine?.[1]?.replace(/^metrics at /, '') ?? '(see the worker log)';
    worker.child.once('exit', (code) => {
      if (!stopping) {
        console.error(`the worker exited (${code}); see ${worker.logFile}`);
        void stopAll(1);
      }
    });

    // The HTTP API (api/main.ts); without CIBA_API_KEYS(_FILE) in .env (one made before the API), the local key file.
    const ownKeys = Boolean(process.env.CIBA_API_KEYS || process.env.CIBA_API_KEYS_FILE);
    const api = await startTsProcess(
      'api',
      'api/main.ts',
      { TEMPORAL_ADDRESS: temporal.address, ...(ownKeys ? {} : { CIBA_API_KEYS_FILE: LOCAL_API_KEYS_FILE }) },
      /ciba api: listening on/,
      { logDir: LOG_DIR, echo: true },
    );
    running.push(stoppable(api));
    const apiUrl = /listening on (\S+)/.exec(api.readyLine)?.[1] ?? '';
    const usesLocalKey =
      !process.env.CIBA_API_KEYS &&
      path.resolve(process.env.CIBA_API_KEYS_FILE ?? LOCAL_API_KEYS_FILE) === LOCAL_API_KEYS_FILE;
    const apiKey = (usesLocalKey && localApiKey()) || 'ID:SECRET';

    // The MCP server over Streamable HTTP (mcp/http-main.ts); its bearer tokens come from the local provider.
    const mcp = await startTsProcess(
      'mcp',
      'mcp/http-main.ts',
      { TEMPORAL_ADDRESS: temporal.address, CIBA_ISSUER: ready.issuer },
      /ciba mcp: listening on/,
      { logDir: LOG_DIR, echo: true },
    );
    running.push(stoppable(mcp));
    const mcpUrl = /listening on (\S+)/.exec(mcp.readyLine)?.[1] ?? '';

    // The sample AI agent's worker (agents/pay-invoice), on Node 24 (`ai` 7 needs Node >= 22.12); optional.
    const agent = await startTsProcess(
      'agent',
      'agents/pay-invoice/worker-node24.ts',
      { TEMPORAL_ADDRESS: temporal.address },
      /pay-invoice agent worker: task queue/,
      { logDir: LOG_DIR, echo: true, timeoutMs: 300_000 },
    ).catch((error: unknown) => {
      console.error(`the pay-invoice agent worker did not start (the rest runs): ${(error as Error).message}`);
      return undefined;
    });
    if (agent) running.push(stoppable(agent));

    const encodeNote = encode
      ? 'on (CODEC_SERVER_ENCODE=true): any local process can make inputs the worker accepts'
      : 'off: the UI cannot start workflows or send signals with input (CODEC_SERVER_ENCODE=true in .env turns it on)';
    console.log(`
The local stack is up.
  Temporal gRPC     ${temporal.address}${temporal.reused ? ' (already running, reused)' : ''}
  Temporal Web UI   ${temporal.uiUrl ?? '(headless)'}   (payloads decrypted by ${codecServer.url})
  Codec /encode     ${encodeNote}
  CIBA provider     ${ready.issuer}   (users: alice@example.com, bob@example.com)
  Device page       ${ready.deviceUrl}   (approve or deny requests here)
  HTTP API          ${apiUrl}   (${apiUrl}/openapi.json; local key ${apiKey})
  MCP server        ${mcpUrl}   (Streamable HTTP, tokens from the provider; stdio: npm run mcp; docs/mcp.md)
  Worker metrics    ${metrics}   (Prometheus)
  Logs              ${LOG_DIR}

Ask Alice to approve a payment (in another terminal), then approve it on the device page:
  npm run ciba -- request --login-hint alice@example.com --binding-message "Pay 50.00 USD to ExampleCorp" \\
    --authorization-details '[{"type":"payment_initiation","instructedAmount":{"currency":"USD","amount":"50.00"},"creditorName":"ExampleCorp"}]' --wait

Or through the HTTP API (then GET ${apiUrl}/approvals/ID/result):
  curl -u '${apiKey}' -H 'Idempotency-Key: order-4711' -H 'Content-Type: application/json' ${apiUrl}/approvals \\
    -d '{"loginHint":"alice@example.com","bindingMessage":"Pay 50.00 USD to ExampleCorp"}'

Or run the sample payment agent end to end:
  npm run demo
${
  agent
    ? `
Or ask the pay-invoice AI agent (AI SDK on Temporal, Node 24; a scripted model unless OPENAI_API_KEY is set), then
approve its payment on the device page:
  npm run agent -- "Pay invoice INV-1001: 50.00 USD to ExampleCorp"
`
    : ''
}
Ctrl-C stops everything.`);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    await stopAll(1);
  }
}

function stoppable(part: ManagedProcess): { stop(): Promise<void> } {
  return { stop: () => part.kill('SIGTERM') };
}

function optionalNumber(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`not a port number: ${value}`);
  return n;
}

void main();

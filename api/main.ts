/**
 * `npm run api`: the HTTP API (api/app.ts) on CIBA_API_HOST:CIBA_API_PORT (default 127.0.0.1:8235), connected to
 * Temporal like the other clients (common/config.ts). Stops on SIGINT/SIGTERM after the requests in flight.
 */
import { ApprovalClient } from '../client/approvals';
import { ConfigError } from '../common/config';
import { buildApi } from './app';
import { loadApiConfig } from './config';

async function main(): Promise<void> {
  const config = loadApiConfig();
  const approvals = await ApprovalClient.connect();
  // Request lines only (method, URL, status, time): no headers, no bodies, so no key and no token reaches the log.
  const app = await buildApi({
    approvals,
    keys: config.keys,
    approvalIdKey: config.approvalIdKey,
    startsPerMinute: config.startsPerMinute,
    maxWaitSeconds: config.maxWaitSeconds,
    logger: { level: process.env.CIBA_API_LOG_LEVEL ?? 'info' },
  });
  const address = await app.listen({ host: config.host, port: config.port });
  const url = new URL(address);
  if (url.hostname === '0.0.0.0' || url.hostname === '[::]') url.hostname = '127.0.0.1';
  const idKey = config.approvalIdKey
    ? 'approval ids tagged under CIBA_API_ID_KEY'
    : "approval ids tagged under each key's secret (set CIBA_API_ID_KEY to keep them across new secrets)";
  console.error(
    `ciba api: listening on ${url.origin} (task queue "${approvals.taskQueue}", ${config.keys.ids.length} API key(s): ` +
      `${config.keys.ids.join(', ')}; ${config.startsPerMinute} starts a minute per key; ${idKey})`,
  );
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await app.close();
    await approvals.close();
    console.error('ciba api: stopped');
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? `ciba api: ${error.message}` : error);
  process.exit(1);
});

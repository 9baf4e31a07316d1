/**
 * `npm run codec-server`: the codec server on its own, for a Temporal UI outside the local stack (settings:
 * CODEC_SERVER_* in devstack/codec-server-config.ts, payload key as for the worker). Ctrl-C stops it.
 */
import { temporalSettings } from '../common/config';
import { startCodecServer } from './codec-server';
import { loadCodecServerConfig } from './codec-server-config';

async function main(): Promise<void> {
  const options = loadCodecServerConfig();
  const codec = temporalSettings().dataConverter.payloadCodecs![0]!;
  const server = await startCodecServer(codec, options);
  console.log(`codec server (${options.auth.mode} mode) at ${server.url}, for ${options.uiOrigins.join(', ')}`);
  console.log(
    options.encode
      ? 'POST /encode is on (CODEC_SERVER_ENCODE=true): its callers can make workflow inputs the worker accepts'
      : 'POST /encode is off: the UI cannot encode signal or workflow inputs (CODEC_SERVER_ENCODE=true turns it on)',
  );
  const stop = () => void server.stop().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});

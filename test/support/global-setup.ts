/**
 * Starts the shared real stack once for the whole test run: a Temporal dev server (headless, in memory, free port)
 * and the local CIBA provider (free port, fresh data folder, 1 s polling interval). Test files start their own
 * workers; tests that kill a server start their own.
 */
import path from 'node:path';
import { startTemporalDevServer, type RunningTemporal } from '../../devstack/temporal-server';
import { REPO_ROOT } from '../../devstack/ts-process';
import { STACK_ENV, TEST_LOG_DIR, newPayloadKey, startProvider, type SharedStack, type StartedProvider } from './stack';

declare global {
  var __cibaStack: { temporal: RunningTemporal; provider: StartedProvider } | undefined;
}

export default async function globalSetup(): Promise<void> {
  const temporal = await startTemporalDevServer({
    port: 0,
    headless: true,
    dbFile: false,
    logFile: path.join(TEST_LOG_DIR, `temporal-${Date.now()}.log`),
    repoRoot: REPO_ROOT,
  });
  const provider = await startProvider();
  globalThis.__cibaStack = { temporal, provider };
  const stack: SharedStack = {
    temporalAddress: temporal.address,
    issuer: provider.issuer,
    payloadKey: newPayloadKey(),
  };
  process.env[STACK_ENV] = JSON.stringify(stack);
}

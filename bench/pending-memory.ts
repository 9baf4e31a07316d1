/**
 * Worker memory per pending approval: starts N approvals that nobody decides against a real stack (dev server in
 * memory, the local provider with a 30 s polling interval and one user per approval, one worker process), waits
 * until every one has asked, and reads the worker's resident
 * memory (VmRSS in /proc) until it settles. Run once per worker setting to size the workflow cache by measurement
 * (docs/waiting-costs.md).
 *
 *   node --import tsx bench/pending-memory.ts --n 1000 --mode compact [--cache 100] [--settle 60]
 *
 * Every process it starts is stopped before it exits; it sends requests only to loopback.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ApprovalClient, connectTemporalClient } from '../client/approvals';
import { temporalSettings } from '../common/config';
import { generatePayloadKey } from '../common/payload-codec';
import { startTemporalDevServer } from '../devstack/temporal-server';
import { REPO_ROOT, startTsProcess, type ManagedProcess } from '../devstack/ts-process';

const LOG_DIR = path.join(REPO_ROOT, '.data', 'bench-logs');

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '300' },
    mode: { type: 'string', default: 'compact' },
    cache: { type: 'string' },
    settle: { type: 'string', default: '60' },
  },
});
const n = Number(values.n);
const settleSeconds = Number(values.settle);

function log(message: string): void {
  process.stderr.write(`[pending-memory] ${message}\n`);
}

/** Resident memory of `pid` in MB (VmRSS). */
function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024);
}

async function main(): Promise<void> {
  const stops: Array<() => Promise<unknown>> = [];
  try {
    const temporal = await startTemporalDevServer({
      port: 0,
      headless: true,
      dbFile: false,
      logFile: path.join(LOG_DIR, `pending-memory-temporal-${Date.now()}.log`),
      repoRoot: REPO_ROOT,
    });
    stops.push(() => temporal.stop());
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'ciba-pending-memory-'));
    stops.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const provider = await startTsProcess(
      'pending-memory-provider',
      'provider/main.ts',
      { IDP_PORT: '0', IDP_POLL_INTERVAL: '30', IDP_TEST_USERS: String(n), IDP_DATA_DIR: dataDir },
      /"event":"ready"/,
      { logDir: LOG_DIR, timeoutMs: 300_000 },
    );
    stops.push(() => provider.kill());
    const { issuer } = JSON.parse(provider.readyLine.slice(provider.readyLine.indexOf('{'))) as { issuer: string };
    const env: Record<string, string> = {
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: 'default',
      CIBA_TASK_QUEUE: 'pending-memory',
      CIBA_ISSUER: issuer,
      CIBA_CLIENT_ID: 'ciba-agent',
      CIBA_CLIENT_SECRET: 'ciba-agent-secret',
      CIBA_PAYLOAD_KEY: generatePayloadKey(),
      CIBA_PROVIDER_PROFILE: 'auth0',
      CIBA_METRICS_ADDRESS: '',
      // The approval worker alone: no sample agent's Worker (and its bundle) beside it.
      CIBA_AGENT_TASK_QUEUE: 'off',
      CIBA_POLLING_MODE: values.mode!,
      CIBA_USER_MAX_PENDING_ASKS: String(n + 10),
      CIBA_USER_MAX_ASKS_PER_HOUR: String(10 * n),
      ...(values.cache !== undefined && { CIBA_MAX_CACHED_WORKFLOWS: values.cache }),
    };
    const worker: ManagedProcess = await startTsProcess(
      'pending-memory-worker',
      'worker/main.ts',
      env,
      /ciba worker: task queue/,
      { logDir: LOG_DIR, timeoutMs: 300_000 },
    );
    stops.push(() => worker.kill('SIGKILL')); // measured: no need to wait for its 1,000 activities
    const pid = worker.child.pid!;
    const idleMb = rssMb(pid);
    log(`worker ready: ${idleMb} MB`);

    const approvals = await ApprovalClient.connect(temporalSettings(env));
    stops.push(() => approvals.close());
    const temporalClient = await connectTemporalClient(temporalSettings(env));
    stops.push(() => temporalClient.connection.close());
    const pendingNow = async () => (await temporalClient.workflow.count(`CibaApprovalStatus = 'pending'`)).count;
    // In waves: an approval's first workflow task holds a workflow task slot while its ask gate's local activity
    // waits for the user's gate workflow, which needs a slot of the same worker; a burst of many users at once starves
    // the gates (docs/waiting-costs.md). Each wave waits until it has asked (or 60 s).
    const WAVE = 25;
    const started = Date.now();
    let pending = 0;
    for (let i = 0; i < n; i += WAVE) {
      await Promise.all(
        Array.from({ length: Math.min(WAVE, n - i) }, (_, j) =>
          approvals.start({
            // One user each: a user's ask gate takes a few updates at a time (Temporal's in-flight update limit).
            loginHint: `user${i + j + 1}@example.com`,
            bindingMessage: `Pending ${i + j}`,
            requestedExpiry: 3_600,
          }),
        ),
      );
      const waveStarted = Date.now();
      do {
        await new Promise((r) => setTimeout(r, 1_000));
        pending = await pendingNow();
      } while (pending < Math.min(n, i + WAVE) && Date.now() - waveStarted < 60_000);
    }
    log(`${pending} pending after ${((Date.now() - started) / 1000).toFixed(1)} s: ${rssMb(pid)} MB`);
    const samples: number[] = [];
    for (let s = 0; s < settleSeconds; s += 5) {
      await new Promise((r) => setTimeout(r, 5_000));
      samples.push(rssMb(pid));
    }
    const peak = Math.max(...samples);
    const last = samples[samples.length - 1]!;
    console.log(
      JSON.stringify({
        n,
        pending,
        mode: values.mode,
        cache: values.cache ?? 'the worker default',
        idleMb,
        settledMb: last,
        peakMb: peak,
        perPendingKb: Math.round(((last - idleMb) * 1024) / pending),
      }),
    );
  } finally {
    for (const stop of stops.reverse()) await stop().catch((e: unknown) => log(`stop: ${(e as Error).message}`));
  }
}

main().catch((error: unknown) => {
  log((error as Error).stack ?? String(error));
  process.exitCode = 1;
});

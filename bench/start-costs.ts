/**
 * `npm run bench:start-costs` — what one approval start costs in CPU, worker and server (docs/bench-start-costs.md).
 *
 *   npm run bench:start-costs -- [--n 200] [--rounds 2] [--warmup 20] [--burst 10]
 *   CIBA_BENCH_PROFILE_DIR=/tmp/prof npm run bench:start-costs    # also CPU profiles of the worker's threads
 *
 * One in-memory Temporal dev server, a fresh local provider whose polling interval (600 s) keeps every poll out of the
 * window, and the real worker in its own process (bench/fleet/stack.ts). Per round: N approvals started with the
 * client library, in bursts of 10 at once; the window closes when the provider has all N backchannel requests and the
 * worker has gone quiet again (the workflow task after the request, which starts the poll timer, is in it). CPU comes
 * from /proc, less each process's idle rate measured just before; this process (the client) is not counted.
 */
import { parseArgs } from 'node:util';
import { ApprovalClient } from '../client/approvals';
import { temporalSettings } from '../common/config';
import { generatePayloadKey } from '../common/payload-codec';
import { cpuSeconds, log, mapLimit, sleep, waitUntil } from './fleet/measure';
import { cleanUpAll, ProviderApi, stackEnv, startProvider, startServer, startWorker } from './fleet/stack';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '20' },
    burst: { type: 'string', default: '10' },
  },
});
const N = Number(values.n);
const ROUNDS = Number(values.rounds);
const WARMUP = Number(values.warmup);
/**
 * Approvals started at once. Every approval here asks the same user, whose ask gate takes at most 10 updates in flight
 * (the dev server's limit per workflow): bursts of 10 keep the gate's retries out of the figures.
 */
const BURST = Number(values.burst);

/** CPU cores a process used over `ms`, sampled from /proc. */
async function coresOver(pid: number, ms: number): Promise<number> {
  const before = cpuSeconds(pid)!;
  await sleep(ms);
  return (cpuSeconds(pid)! - before) / (ms / 1000);
}

/**
 * Waits until the worker used under `idle` + 3 % of a core in each of two one-second samples (`idle`: its rate before
 * any approval; a profiled worker samples itself all the time).
 */
async function quiet(pid: number, idle: number): Promise<void> {
  let calm = 0;
  while (calm < 2) calm = (await coresOver(pid, 1000)) < idle + 0.03 ? calm + 1 : 0;
}

async function main(): Promise<void> {
  const server = await startServer(true);
  const provider = await startProvider(600);
  const taskQueue = `start-costs-${Date.now()}`;
  const env = stackEnv(server, provider.issuer, taskQueue, generatePayloadKey());
  const worker = await startWorker(env);
  const approvals = await ApprovalClient.connect(temporalSettings(env));
  const api = new ProviderApi(provider.issuer);
  await sleep(2000);
  const idleAtStart = await coresOver(worker.pid, 3000);
  let started = 0;

  /**
   * Starts `n` approvals, `BURST` at once (each burst once the previous one's requests reached the provider), and waits
   * until the provider has them all and the worker is quiet again.
   */
  async function burst(n: number, label: string): Promise<number> {
    const t0 = Date.now();
    for (let done = 0; done < n; done += BURST) {
      const first = started;
      const size = Math.min(BURST, n - done);
      started += size;
      await mapLimit(
        Array.from({ length: size }, (_, i) => first + i),
        size,
        async (i) => {
          await approvals.start(
            {
              loginHint: 'alice@example.com',
              bindingMessage: `Start ${i}`,
              authorizationDetails: [
                {
                  type: 'payment_initiation',
                  instructedAmount: { currency: 'USD', amount: '50.00' },
                  creditorName: 'ExampleCorp',
                },
              ],
            },
            { key: `${taskQueue}-${i}` },
          );
        },
      );
      await waitUntil(
        async () => ((await api.pending()).length >= started ? true : undefined),
        `${label}: ${started} backchannel requests`,
        10 * 60_000,
        100,
      );
    }
    const elapsed = Date.now() - t0;
    await quiet(worker.pid, idleAtStart);
    return elapsed;
  }

  log(`warm-up: ${WARMUP} approvals`);
  await burst(WARMUP, 'warm-up');
  const rows: string[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const idleMs = 5000;
    const [workerIdle, serverIdle] = await Promise.all([coresOver(worker.pid, idleMs), coresOver(server.pid!, idleMs)]);
    const before = { worker: cpuSeconds(worker.pid)!, server: cpuSeconds(server.pid)!, at: performance.now() };
    const toRequests = await burst(N, `round ${round}`);
    const seconds = (performance.now() - before.at) / 1000;
    const workerMs = ((cpuSeconds(worker.pid)! - before.worker - workerIdle * seconds) * 1000) / N;
    const serverMs = ((cpuSeconds(server.pid)! - before.server - serverIdle * seconds) * 1000) / N;
    const row =
      `round ${round}: n ${N}: CPU per start: worker ${workerMs.toFixed(1)} ms, server ${serverMs.toFixed(1)} ms ` +
      `(idle rates subtracted: ${(workerIdle * 100).toFixed(1)} %, ${(serverIdle * 100).toFixed(1)} % of a core); ` +
      `all requests at the provider after ${(toRequests / 1000).toFixed(1)} s; window ${seconds.toFixed(1)} s`;
    log(row);
    rows.push(row);
  }
  await approvals.close();
  process.stdout.write(`${rows.join('\n')}\n`);
}

main()
  .catch((error: unknown) => {
    log(`failed: ${(error as Error).stack ?? String(error)}`);
    process.exitCode = 1;
  })
  .finally(() => cleanUpAll());

/**
 * `npm run bench` — "Polling that scales": N concurrent approvals per polling mode against the real local stack,
 * compared with an in-process oauth4webapi poll loop (the baseline) in the same run.
 *
 *   npm run bench -- [--modes timer,compact,ping,baseline] [--n 10,100] [--wait 30s] [--interval 5] ...
 *
 * One Temporal dev server for all runs; per run a fresh provider, a fresh task queue and worker process
 * (run.ts). Progress on stderr; the tables on stdout and in BENCHMARKS.md (report.ts). Every process it started is
 * stopped at the end, on an error and on Ctrl-C (stack.ts).
 */
import os from 'node:os';
import { generatePayloadKey } from '../../common/payload-codec';
import { analyse, type Figures } from './analysis';
import { baselineFleet } from './baseline';
import { log } from './measure';
import { parseOptions } from './options';
import type { RunRecord } from './records';
import { machine, notesFor, printReport, writeMarkdown } from './report';
import { runOnce } from './run';
import { runFloor } from './floor';
import { startClusterServer } from './cluster-target';
import { cleanUpAll, startServer, type BenchServer } from './stack';
import { temporalFleet } from './temporal-fleet';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const options = parseOptions(argv);
  const startedAt = new Date();
  const loadAtStart = os.loadavg();
  const settings =
    `modes ${options.modes.map((m) => m.name).join(',')}; n ${options.sizes.join(',')}; ` +
    `provider interval ${options.intervalSeconds} s; wait ${options.waitSeconds} s pending before the device approves; ` +
    `Temporal dev server ${options.inMemory ? 'in memory' : 'on a SQLite file'}` +
    (options.cluster ? '; then the same runs on the cluster (PostgreSQL, one process per Temporal service)' : '');
  log(`${machine()}`);
  log(settings);

  const payloadKey = generatePayloadKey();
  const records: RunRecord[] = [];
  // The dev server's runs, then (--cluster) the same runs on the cluster: one server up at a time. With --faults, the
  // cluster's only: the dev server has no parts to kill.
  const targets: Array<() => Promise<BenchServer>> = options.faults ? [] : [() => startServer(options.inMemory)];
  if (options.cluster) targets.push(() => startClusterServer());
  for (const [t, startTarget] of targets.entries()) {
    let server: BenchServer;
    try {
      server = await startTarget();
    } catch (error) {
      log(`server ${t + 1} did not start: ${(error as Error).stack ?? String(error)}`);
      for (const n of options.sizes)
        for (const mode of options.modes)
          records.push(
            skipped(mode, n, options.intervalSeconds, `the server did not start: ${(error as Error).message}`),
          );
      continue;
    }
    const refused = new Map<string, string>();
    for (const n of options.sizes) {
      for (const mode of options.modes) {
        // The loop has no server: it runs once per size, beside the first server's runs.
        if (mode.kind === 'baseline' && t > 0) continue;
        const earlier = refused.get(mode.name);
        if (earlier) {
          records.push(skipped(mode, n, options.intervalSeconds, earlier));
          continue;
        }
        try {
          const record =
            mode.kind === 'floor'
              ? await runFloor(options, server, payloadKey, mode, n)
              : await runOnce(
                  {
                    options,
                    server,
                    fleet: (m, issuer, runId) =>
                      m.kind === 'baseline'
                        ? baselineFleet(issuer)
                        : temporalFleet(m, server, issuer, runId, payloadKey, options.historySample),
                  },
                  mode,
                  n,
                );
          if (options.cluster && mode.kind !== 'baseline') record.serverName = server.name;
          if (record.skipped) {
            log(`${mode.name}: skipped: ${record.skipped}`);
            refused.set(mode.name, record.skipped);
          }
          records.push(record);
        } catch (error) {
          log(`${mode.name} n=${n} on ${server.name} failed: ${(error as Error).stack ?? String(error)}`);
          records.push(skipped(mode, n, options.intervalSeconds, `the run failed: ${(error as Error).message}`));
        }
      }
    }
    await server.stop();
  }

  const figures: Figures[] = records.map(analyse);
  const context = {
    command: `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
    startedAt,
    loadAtStart,
    loadAtEnd: os.loadavg(),
    notes: notesFor(figures),
    settings,
  };
  printReport(figures, context);
  if (options.out !== '-') log(`wrote ${await writeMarkdown(options.out, figures, context)}`);
  if (figures.some((f) => !f.run.skipped && !f.ok)) process.exitCode = 1;
}

function skipped(mode: RunRecord['mode'], n: number, intervalSeconds: number, why: string): RunRecord {
  return {
    mode,
    n,
    intervalSeconds,
    skipped: why,
    approvals: [],
    cpu: {},
    peakRssMiB: {},
    lifetimePeakRssMiB: {},
    busiestCores: {},
    providerLog: [],
  };
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(async () => {
    await cleanUpAll();
    process.exit(); // nothing is left to do: do not wait for idle sockets and timers
  });

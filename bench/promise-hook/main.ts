/**
 * `npm run bench:promise-hook` — the TypeScript SDK's promise hook, measured: the same one-activity workflow started
 * `n` times, with the SDK's stack-trace promise hook installed (as always) and without it (patched out, which no
 * option allows). The upstream issue text in docs/bench-start-costs.md is built on this reproduction.
 *
 *   npm run bench:promise-hook -- [--n 300] [--awaits 20]
 *
 * Workflows run in this process (`debugMode: true`: the SDK's reusable V8 context on the main thread, where the hook can
 * be patched before the worker installs it); each variant gets its own process, dev server (in memory) and task queue.
 * CPU per workflow is this process's (worker and client together): the two variants differ only by the hook.
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { globalHandlers } from '@temporalio/worker/lib/workflow/vm-shared';
import { startTemporalDevServer } from '../../devstack/temporal-server';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '300' },
    awaits: { type: 'string', default: '20' },
    variant: { type: 'string' },
  },
});

async function runVariant(hook: boolean): Promise<void> {
  // The hook records a stack trace for every promise a workflow creates (for the __stack_trace query); no WorkerOptions
  // turns it off, so the variant without it replaces the installer before the worker runs it.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  if (!hook) (globalHandlers as unknown as { setPromiseHook(): void }).setPromiseHook = () => {};
  const server = await startTemporalDevServer({ port: 0, headless: true, dbFile: false, log: () => {} });
  try {
    const taskQueue = `promise-hook-${hook ? 'on' : 'off'}`;
    const worker = await Worker.create({
      connection: await NativeConnection.connect({ address: server.address }),
      taskQueue,
      workflowsPath: require.resolve('./workflows'),
      activities: { echo: async (text: string) => text },
      debugMode: true,
    });
    const client = new Client({ connection: await Connection.connect({ address: server.address }) });
    await worker.runUntil(async () => {
      const run = async (from: number, count: number) => {
        const handles = await Promise.all(
          Array.from({ length: count }, (_, i) =>
            client.workflow.start('oneActivity', {
              taskQueue,
              workflowId: `hook-${from + i}`,
              args: [Number(values.awaits)],
            }),
          ),
        );
        await Promise.all(handles.map((h) => h.result()));
      };
      await run(0, 20); // warm-up
      const n = Number(values.n);
      const before = process.cpuUsage();
      for (let done = 0; done < n; done += 50) await run(1000 + done, Math.min(50, n - done));
      const cpu = process.cpuUsage(before);
      console.log(
        `promise hook ${hook ? 'on ' : 'off'}: ${n} workflows, ${((cpu.user + cpu.system) / 1000 / n).toFixed(2)} ms CPU ` +
          `per workflow (worker and client in this process)`,
      );
    });
  } finally {
    await server.stop();
  }
}

if (values.variant) {
  runVariant(values.variant === 'on').catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
} else {
  for (const variant of ['on', 'off', 'on', 'off']) {
    const child = spawnSync(
      process.execPath,
      [...process.execArgv, __filename, '--variant', variant, '--n', values.n!, '--awaits', values.awaits!],
      { stdio: 'inherit' },
    );
    if (child.status !== 0) process.exit(child.status ?? 1);
  }
}

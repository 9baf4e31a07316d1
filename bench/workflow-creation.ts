/**
 * `npm run bench:workflow-creation` — what a worker pays, before any workflow code runs, for each new workflow: the
 * SDK evaluates the bundle's workflow modules again for every workflow (its reusable V8 context keeps module state per
 * workflow), and everything those modules build at module level is built again (docs/bench-start-costs.md).
 *
 *   npm run bench:workflow-creation -- [--n 500] [--workflows workflows/approval-workflows.ts] [--profile DIR]
 *
 * Bundles the workflows file as the worker does (same interceptor modules and bundler options), creates `n` workflows
 * in one reusable V8 context as the SDK's workflow thread does (ReusableVMWorkflowCreator, an SDK internal), disposes
 * each, and prints the CPU time per creation. No server: this is the module-level share of a start alone.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { parseWorkflowCode } from '@temporalio/worker/lib/worker';
import { ReusableVMWorkflowCreator } from '@temporalio/worker/lib/workflow/reusable-vm';
import { REPO_ROOT } from '../devstack/ts-process';
import { approvalBundlerOptions } from '../worker/bundler-options';
import { workerInterceptors } from '../worker/worker';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '500' },
    workflows: { type: 'string', default: 'workflows/approval-workflows.ts' },
    type: { type: 'string', default: 'cibaApproval' },
    preload: { type: 'string', default: 'on' },
  },
});

async function main(): Promise<void> {
  const n = Number(values.n);
  const workflowsPath = path.resolve(REPO_ROOT, values.workflows);
  const bundle = await bundleWorkflowCode({
    workflowsPath,
    workflowInterceptorModules: workerInterceptors.workflowModules,
    ...(values.preload === 'off' ? {} : approvalBundlerOptions()),
    logger: new DefaultLogger('WARN'),
  });
  const creator = await ReusableVMWorkflowCreator.create(
    parseWorkflowCode(bundle.code), // as the Worker loads a bundle: its source map and file name
    5000,
    new Set<string>(),
    undefined,
  );
  const create = async (i: number) => {
    const runId = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    const now = Date.now();
    const workflow = await creator.createWorkflow({
      info: {
        workflowId: `creation-${i}`,
        runId,
        workflowType: values.type!,
        searchAttributes: {},
        taskQueue: 'creation',
        namespace: 'default',
        firstExecutionRunId: runId,
        originalExecutionRunId: runId,
        startTime: new Date(now),
        runStartTime: new Date(now),
        taskTimeoutMs: 10_000,
        attempt: 1,
        historyLength: 3,
        historySize: 1000,
        continueAsNewSuggested: false,
        currentBuildId: '',
        unsafe: { now: () => Date.now(), isReplaying: false, isReplayingHistoryEvents: false },
      } as never,
      randomnessSeed: [i, 0],
      now,
      showStackTraceSources: false,
    });
    await workflow.dispose();
  };
  for (let i = 0; i < 20; i++) await create(i); // warm-up: JIT, first-time installs
  const before = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await create(1000 + i);
  const cpu = process.cpuUsage(before);
  const ms = (cpu.user + cpu.system) / 1000;
  console.log(
    `${values.workflows}: ${n} workflows created and disposed: ${(ms / n).toFixed(3)} ms CPU each ` +
      `(${((performance.now() - t0) / n).toFixed(3)} ms wall); bundle ${(bundle.code.length / 1024).toFixed(0)} KiB`,
  );
  await creator.destroy();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

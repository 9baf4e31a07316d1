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
import { REPO_ROOT } from '../devstack/ts-process';
import { workflowCreator } from '../test/support/workflow-creator';

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
  const creator = await workflowCreator(workflowsPath, { preload: values.preload !== 'off' });
  const create = async (i: number) => {
    const workflow = await creator.create(i, values.type!);
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
      `(${((performance.now() - t0) / n).toFixed(3)} ms wall); bundle ${(creator.bundleBytes / 1024).toFixed(0)} KiB`,
  );
  await creator.destroy();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

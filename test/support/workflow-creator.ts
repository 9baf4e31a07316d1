/**
 * A workflow bundle in the SDK's reusable V8 context, loaded as a Worker loads it, and new workflows created in it
 * without a server: what a new workflow evaluates (test/workflow-modules.test.ts) and what it costs at module level
 * (bench/workflow-creation.ts). Uses the SDK's internals (`ReusableVMWorkflowCreator`), pinned by those two.
 */
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { parseWorkflowCode } from '@temporalio/worker/lib/worker';
import { ReusableVMWorkflowCreator } from '@temporalio/worker/lib/workflow/reusable-vm';
import type { Workflow } from '@temporalio/worker/lib/workflow/interface';
import { approvalBundlerOptions } from '../../worker/bundler-options';
import { workerInterceptors } from '../../worker/worker';

export interface WorkflowCreator {
  /** The bundle's size in bytes. */
  bundleBytes: number;
  /** A new workflow of `workflowType` (the i-th: its ids derive from i), as a worker creates one for a new run. */
  create(i: number, workflowType: string): Promise<Workflow>;
  destroy(): Promise<void>;
}

/** Bundles `workflowsPath` with the worker's interceptors and (unless `preload` is false) its bundler options. */
export async function workflowCreator(workflowsPath: string, { preload = true } = {}): Promise<WorkflowCreator> {
  const bundle = await bundleWorkflowCode({
    workflowsPath,
    workflowInterceptorModules: workerInterceptors.workflowModules,
    ...(preload ? approvalBundlerOptions() : {}),
    logger: new DefaultLogger('WARN'),
  });
  // As the Worker loads a bundle: its source map and file name.
  const creator = await ReusableVMWorkflowCreator.create(parseWorkflowCode(bundle.code), 5000, new Set(), undefined);
  return {
    bundleBytes: bundle.code.length,
    create(i, workflowType) {
      const runId = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
      const now = Date.now();
      return creator.createWorkflow({
        info: {
          workflowId: `new-workflow-${i}`,
          runId,
          workflowType,
          searchAttributes: {},
          taskQueue: 'new-workflows',
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
    },
    destroy: () => creator.destroy(),
  };
}

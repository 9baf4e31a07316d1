/**
 * The workflow bundler's options for every worker that runs the approval workflows (the standalone worker, the sample
 * agent's, a team's through withApprovals): workflows/isolate-shared.ts is preloaded, so that the approval's input
 * rules are built once per workflow thread instead of once per workflow (docs/bench-start-costs.md).
 */
import type { WorkerOptions } from '@temporalio/worker';

type BundlerOptions = NonNullable<WorkerOptions['bundlerOptions']>;

/** `bundlerOptions` with the approvals' preloaded module added to `theirs` (a team's own options, kept). */
export function approvalBundlerOptions(theirs: BundlerOptions = {}): BundlerOptions {
  const shared = require.resolve('../workflows/isolate-shared');
  return { ...theirs, preloadModules: [...new Set([shared, ...(theirs.preloadModules ?? [])])] };
}

/**
 * The approval workflow's patches, asked through one marker in new runs.
 *
 * Every `patched(id)` a run asks records a marker and, from the SDK's core, an upsert of the `TemporalChangeVersion`
 * search attribute: two history events, and a billed Temporal Cloud action, per patch per run. A new approval asked
 * about seven of them (the seal and gate, metrics, compact tiers, the gate's activity, search attributes, the claim
 * check, revocation). Runs since APPROVAL_BASELINE ask one patch, at their first activation, that stands for every
 * patch below; runs from before it replay as they ran, asking each patch where they asked it.
 *
 * A change after the baseline gets a patch of its own, asked through `since()` as well, until the next baseline
 * folds it in. Patches are never removed: runs that took them may still be waiting.
 *
 * Per run: workflow code has one instance of this module per workflow execution (the SDK evaluates the bundle's
 * modules per workflow), so the baseline is this run's.
 */
import { patched } from '@temporalio/workflow';

/** Stands for every patch this module lists (APPROVAL_PATCHES), in runs that took it. */
export const APPROVAL_BASELINE = 'approval-baseline-2026-12-08';

/** The patches the baseline stands for: each, in runs since the baseline, is true without a marker of its own. */
export const APPROVAL_PATCHES = [
  'lost-answer-not-asked-again-by-default',
  'polling-modes',
  'ask-search-attributes',
  'sealed-start-and-ask-gate',
  'compact-heartbeat-tiers',
  'ping-fallback-poll',
  'timer-idle-tier',
  'revoke-unreturned-tokens',
  'granted-access-token-claim',
  'ask-gate-activity',
  'metrics-counted-once',
] as const;

export type ApprovalPatch = (typeof APPROVAL_PATCHES)[number];

let baseline: boolean | undefined;

/** Asks the baseline: call first thing in the run (its first activation), before any other patch or await. */
export function startPatches(): void {
  baseline = patched(APPROVAL_BASELINE);
}

/** Whether this run takes `patch`: always in runs since the baseline (no marker), else as `patched(patch)` says. */
export function since(patch: ApprovalPatch): boolean {
  if (baseline === undefined) throw new Error(`patch ${patch} asked before startPatches()`);
  return baseline || patched(patch);
}

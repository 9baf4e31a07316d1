/**
 * The floor of `npm run bench`: the cheapest Temporal workflow that runs one activity (one HTTP call). What any
 * workflow that calls out once costs on the same server, worker settings and client as the approval workflow.
 * Workflow code: bundled alone by bench/fleet/floor-worker.ts.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { FloorActivities } from './floor-activities';

// Defaults otherwise (eager dispatch allowed, the SDK's retry policy), as a user's first workflow would have them.
const { floorCall } = proxyActivities<FloorActivities>({ startToCloseTimeout: '30s' });

/** One activity, one GET of `url`; returns when the activity ran (the worker's clock). */
export async function floorWorkflow(url: string): Promise<FloorCallResult> {
  return floorCall(url);
}

/** When the floor's activity began (just before its GET) and ended (the answer read), epoch ms. */
export interface FloorCallResult {
  startedMs: number;
  endedMs: number;
  status: number;
}

/** The floor workflow's one activity (bench/fleet/floor-workflow.ts): one HTTP GET, timed. */
import type { FloorCallResult } from './floor-workflow';

/** Per request, as the approval worker's default (CIBA_HTTP_TIMEOUT_MS). */
export function createFloorActivities(httpTimeoutMs: number) {
  return {
    async floorCall(url: string): Promise<FloorCallResult> {
      const startedMs = Date.now();
      const response = await fetch(url, { signal: AbortSignal.timeout(httpTimeoutMs) });
      await response.arrayBuffer();
      return { startedMs, endedMs: Date.now(), status: response.status };
    },
  };
}

export type FloorActivities = ReturnType<typeof createFloorActivities>;

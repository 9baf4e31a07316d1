/**
 * Waiting in tests: always for a condition, never for a while. CI runs on two cores shared with other work, so no
 * wait may assume how fast anything happens; the only real-time limit is a hang detector, generous enough that its
 * expiry can only turn a real hang into a failure, never a slow but correct run.
 */

/** How long any wait helper waits for its condition before it calls the wait a hang. */
export const HANG_DETECTOR_MS = 5 * 60_000;

/** Checks `probe` every `everyMs` until it returns something other than undefined or false; returns that. */
export async function waitUntil<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = HANG_DETECTOR_MS,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still not the case after ${timeoutMs} ms (hang)`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

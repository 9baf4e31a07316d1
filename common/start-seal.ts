/**
 * The start seal: what binds a workflow's input to the one workflow it was made for, once.
 *
 * Every payload is encrypted (common/payload-codec.ts), so only a key holder can write an input, but anyone who can
 * read a history can copy an encrypted input and start it again. The seal travels inside the encrypted input:
 *
 *   seal = { workflowId, issuedAt, requestId }
 *
 * - `workflowId`: the workflow the input was made for. A copy started under another ID is refused.
 * - `issuedAt`: when the key holder made it. A first run that the server started more than
 *   {@link SEAL_FRESHNESS_SECONDS} after that is refused: an old input cannot be started again under its own ID.
 * - `requestId`: the request's one identity (random, or derived from the parent's). The per-user ask gate
 *   (workflows/user-asks.ts) remembers which run chain first asked with it, so a copy started again under the same ID
 *   inside the freshness window asks nobody; side effects (payments) are idempotent on it.
 *
 * Runs continued as new carry the input on; only a first run is checked for freshness (nobody but the server can
 * make a run that continues another).
 *
 * Imported by workflow code: deterministic (zod only).
 */
import { z } from 'zod';

/** How long after its seal was issued an input may still start a workflow (covers clock skew and queued starts). */
export const SEAL_FRESHNESS_SECONDS = 600;
/** A seal issued this far in the future of the server's clock is refused too (clock skew allowance). */
export const SEAL_CLOCK_SKEW_SECONDS = 120;

export const REQUEST_ID_PATTERN = /^[\w.:/@#%!*'()-]{16,1000}$/;

export const StartSealSchema = z
  .strictObject({
    /** The workflow ID the input was made for. */
    workflowId: z.string().min(1).max(1000),
    /** When the input was made (ISO 8601, UTC). */
    issuedAt: z.iso.datetime({ offset: true }),
    /** The request's one identity: 16 to 1000 characters of letters, digits and `_.:/@#%!*'()-` (what encodeURIComponent leaves). */
    requestId: z
      .string()
      .regex(REQUEST_ID_PATTERN, "requestId must be 16 to 1000 characters of [A-Za-z0-9_.:/@#%!*'()-]"),
  })
  .meta({
    description:
      'Binds this input to the one workflow it was made for, once (README: Security model). Clients add it; a workflow ' +
      'refuses an input without it, made for another workflow ID, or issued more than 600 s before the run started.',
  });
export type StartSeal = z.infer<typeof StartSealSchema>;

/** A seal for `workflowId`, issued now. */
export function sealFor(workflowId: string, requestId: string, nowMs: number): StartSeal {
  return { workflowId, issuedAt: new Date(nowMs).toISOString(), requestId };
}

/** What the running workflow knows about itself, to check a seal against. */
export interface SealedRun {
  workflowId: string;
  /** When the server started this run. */
  runStartMs: number;
  /** The run continues another (continue-as-new or retry): only the server can make such a run. */
  continued: boolean;
}

/** Why a seal does not admit a run: none (or a malformed one), or one made for another run (a replay). */
export interface SealProblem {
  kind: 'not_sealed' | 'replayed';
  message: string;
}

/** Why `seal` does not admit this run, or undefined when it does. */
export function sealProblem(seal: unknown, run: SealedRun): SealProblem | undefined {
  const notSealed = (message: string): SealProblem => ({ kind: 'not_sealed', message });
  const replayed = (message: string): SealProblem => ({ kind: 'replayed', message });
  if (seal === undefined)
    return notSealed('the input carries no start seal: it was not made by a client of this version');
  const parsed = StartSealSchema.safeParse(seal);
  if (!parsed.success)
    return notSealed(`the input's start seal is malformed (${parsed.error.issues[0]?.message ?? 'invalid'})`);
  const { workflowId, issuedAt } = parsed.data;
  if (workflowId !== run.workflowId) {
    return replayed(
      `the input was made for workflow ${JSON.stringify(workflowId)}, not for ${JSON.stringify(run.workflowId)}`,
    );
  }
  if (run.continued) return undefined;
  const ageSeconds = (run.runStartMs - Date.parse(issuedAt)) / 1000;
  if (ageSeconds > SEAL_FRESHNESS_SECONDS) {
    return replayed(
      `the input was issued ${Math.round(ageSeconds)} s before this run started (at most ${SEAL_FRESHNESS_SECONDS} s)`,
    );
  }
  if (ageSeconds < -SEAL_CLOCK_SKEW_SECONDS) {
    return replayed(
      `the input was issued ${Math.round(-ageSeconds)} s after this run started (clock skew above ${SEAL_CLOCK_SKEW_SECONDS} s)`,
    );
  }
  return undefined;
}

/** The requestId of the approval a sealed workflow asks for (`requestApproval`): stable across copies of its input. */
export function derivedRequestId(parentRequestId: string, key: string): string {
  return `${parentRequestId}/approval/${encodeURIComponent(key)}`;
}

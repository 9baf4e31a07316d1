/**
 * The approval's input rules (common/approval.ts) and the start seal's (common/start-seal.ts), for workflow code:
 * loaded once per workflow isolate and shared (workflows/isolate-shared.ts).
 *
 * Both files build zod schemas when they are evaluated, and evaluating zod itself costs more than a workflow's whole
 * first task does otherwise (docs/bench-start-costs.md). This module imports neither at its top: the first workflow of
 * an isolate that needs them loads them, and every later one uses the same. Their functions and schemas are pure, so a
 * workflow cannot tell whose they are.
 */
import type * as ApprovalRules from '../common/approval';
import type * as SealRules from '../common/start-seal';
import { sharedPerIsolate } from './isolate-shared';

/** common/approval.ts: ApprovalRequestSchema, legacyApprovalRequestSchema, formatZodError, ... */
export function approvalRules(): typeof ApprovalRules {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, once per isolate (above)
  return sharedPerIsolate('common/approval', () => require('../common/approval') as typeof ApprovalRules);
}

/** common/start-seal.ts: sealProblem, ... */
export function sealRules(): typeof SealRules {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, once per isolate (above)
  return sharedPerIsolate('common/start-seal', () => require('../common/start-seal') as typeof SealRules);
}

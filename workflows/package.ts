/**
 * `ciba-temporal/workflow`: what agent workflows import. Workflow code only: everything reachable from here runs in
 * Temporal's deterministic sandbox (no Node built-ins; the ESLint rule for workflows/ and the consumer test's bundle
 * check it).
 *
 *   import { requestApproval, checkStartSeal, approvalFailureType } from 'ciba-temporal/workflow';
 *
 * The worker that runs the agent also runs the approval workflows: its workflows file re-exports them
 * (`export { cibaApproval, cibaUserAsks } from 'ciba-temporal/workflow';`, see `ciba-temporal/worker`).
 */
export { requestApproval, approvalFailureType, type RequestApprovalOptions } from './request-approval';
export { checkStartSeal } from './sealed-start';
export { cibaApproval, approvalStatusQuery } from './approval';
export { cibaUserAsks } from './user-asks';
export { ApprovalFailureType, FAILURE_OUTCOMES, failureOutcome, type FailureOutcome } from '../common/outcomes';
export type { ApprovalStatus } from '../common/outcomes';
export type { ApprovalRequestInput, ApprovalResult, ApprovalState, Ask, AuthorizationDetail } from '../common/approval';
export type { StartSeal } from '../common/start-seal';

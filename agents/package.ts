/**
 * `ciba-temporal/ai-sdk`: `withApproval` for AI SDK tools in agent workflows on `@temporalio/ai-sdk` (workflow code,
 * like `ciba-temporal/workflow`). Needs `ai` 7 and Node 22.12 or later in the worker.
 */
export {
  withApproval,
  approvalOf,
  isApprovalRefusal,
  refusalFor,
  REFUSAL_OUTCOMES,
  type ApprovalRefusal,
  type ApprovalRequestBuilder,
  type ApprovedToolExecutionOptions,
  type GrantedApproval,
  type RefusalOutcome,
  type WithApprovalOptions,
} from './with-approval';

/**
 * `ciba-temporal/client`: start, watch, cancel approvals from a service (not a workflow). Node code.
 */
export {
  ApprovalClient,
  newStartSeal,
  approvalWorkflowId,
  approvalListQuery,
  connectTemporalClient,
  APPROVAL_ID_PREFIX,
  LISTABLE_STATUSES,
  InvalidApprovalRequestError,
  ApprovalFailedError,
  ApprovalKeyMismatchError,
  type StartedApproval,
  type ApprovalStatusReport,
  type CompactPollingReport,
  type ListedApproval,
  type ApprovalProgress,
} from './approvals';
export { ConfigError, temporalSettings, type TemporalSettings } from '../common/config';
export { ApprovalFailureType, FAILURE_OUTCOMES, failureOutcome, type FailureOutcome } from '../common/outcomes';
export type { ApprovalStatus } from '../common/outcomes';
export type { ApprovalRequestInput, ApprovalResult, ApprovalState, Ask, AuthorizationDetail } from '../common/approval';
export type { StartSeal } from '../common/start-seal';

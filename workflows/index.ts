/**
 * The sample agent's bundle (the standalone worker's second Worker, on CIBA_AGENT_TASK_QUEUE): the agent, and the
 * approval workflows for an agent started without `approvalTaskQueue`, whose approval then runs on the agent's own
 * queue. The approval worker bundles workflows/approval-workflows.ts, which holds the approval workflows only.
 */
export { cibaApproval, approvalStatusQuery } from './approval';
export { paymentAgent } from './payment-agent';
export { cibaUserAsks } from './user-asks';

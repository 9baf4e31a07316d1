/**
 * The package's workflows and nothing else (no sample agent): the workflowsPath `ciba-temporal/worker` gives a worker
 * that runs only approvals. A team's own workflows file re-exports the same two instead.
 */
export { cibaApproval } from './approval';
export { cibaUserAsks } from './user-asks';

/** The benchmark worker's workflows: the real approval workflow and the reference loops (bundled together). */
export { cibaApproval, approvalStatusQuery } from '../workflows/approval';
export { naivePollingLoop, localActivityPollingLoop, retryPollingLoop } from './reference-workflows';

/** Every workflow the worker runs (the worker bundles this file). */
export { cibaApproval, approvalStatusQuery } from './approval';
export { paymentAgent } from './payment-agent';
export { cibaUserAsks } from './user-asks';

/**
 * A sample agent: "pay 50.00 USD to ExampleCorp". It asks the user to approve exactly this payment (an RFC 9396
 * payment_initiation object), waits for the approval, then executes the payment with the access token. The payments
 * API accepts the token only if its authorization_details cover this payment.
 */
import { ApplicationFailure, patched, proxyActivities } from '@temporalio/workflow';
import type { PaymentActivities } from '../activities/payments';
import { formatZodError, type ApprovalRequestInput } from '../common/approval';
import { PaymentSchema, paymentAuthorizationDetails, paymentBindingMessage, type Payment } from '../common/payment';
import type { ProviderProfileName } from '../common/provider-profile';
import { requestApproval } from './request-approval';
import { checkStartSeal } from './sealed-start';
import { derivedRequestId, type StartSeal } from '../common/start-seal';

export interface PaymentAgentInput {
  /** Binds this input to its workflow ID, once (client: `newStartSeal(workflowId)`); refused without it. */
  seal?: StartSeal;
  /** Who must approve (a login_hint the provider understands). */
  loginHint: string;
  payment: Payment;
  audience?: string;
  /**
   * The approval worker's task queue (its CIBA_TASK_QUEUE), where the approval runs as a child workflow. Default: this
   * workflow's own task queue, for a worker that runs both (withApprovals, docs/install.md). The standalone worker runs
   * the agent on a task queue of its own (CIBA_AGENT_TASK_QUEUE), so its starters name the approvals' queue here.
   */
  approvalTaskQueue?: string;
  /** The worker's provider profile, so that the binding message fits the provider's rule (default generic). */
  providerProfile?: ProviderProfileName;
  /** How long the user has and how often to ask (defaults: provider's expiry, 24 h, up to 3 asks a minute apart). */
  approval?: Pick<
    ApprovalRequestInput,
    'requestedExpiry' | 'approvalTimeout' | 'askAgain' | 'continueAsNewAfterEvents' | 'ungrantedAuthorizationDetails'
  >;
}

/** Runs started before start seals take any input, and pay once per workflow. */
const SEALED_START = 'sealed-start';
const APPROVAL_KEY = 'payment';

export interface PaymentAgentResult {
  paymentId: string;
  status: string;
  approvedAt: string;
}

const { executePayment } = proxyActivities<PaymentActivities>({
  startToCloseTimeout: '30s',
  // The payments API is idempotent on the approval's request id (Idempotency-Key): neither a retry nor a copy of this
  // workflow's input started again can pay twice.
  retry: { maximumAttempts: 5, nonRetryableErrorTypes: ['PaymentRefused'] },
});

export async function paymentAgent(input: PaymentAgentInput): Promise<PaymentAgentResult> {
  const seal = patched(SEALED_START) ? checkStartSeal(input.seal) : undefined;
  const payment = PaymentSchema.safeParse(input.payment);
  if (!payment.success) throw ApplicationFailure.nonRetryable(formatZodError(payment.error), 'InvalidPayment');

  const approval = await requestApproval(
    {
      loginHint: input.loginHint,
      bindingMessage: paymentBindingMessage(payment.data, input.providerProfile),
      authorizationDetails: paymentAuthorizationDetails(payment.data),
      scope: 'openid',
      audience: input.audience,
      ...input.approval,
    },
    // Runs recorded before approvalTaskQueue have none: their child started on this queue, as it still does.
    { key: APPROVAL_KEY, taskQueue: input.approvalTaskQueue },
  );

  const receipt = await executePayment({
    accessToken: approval.accessToken,
    payment: payment.data,
    ...(seal && { idempotencyKey: derivedRequestId(seal.requestId, APPROVAL_KEY) }),
  });
  return { paymentId: receipt.paymentId, status: receipt.status, approvedAt: approval.approvedAt };
}

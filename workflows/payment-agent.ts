/**
 * A sample agent: "pay 50.00 USD to ExampleCorp". It asks the user to approve exactly this payment (an RFC 9396
 * payment_initiation object), waits for the approval, then executes the payment with the access token. The payments
 * API accepts the token only if its authorization_details cover this payment.
 */
import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { PaymentActivities } from '../activities/payments';
import { formatZodError, type ApprovalRequestInput } from '../common/approval';
import { PaymentSchema, paymentAuthorizationDetails, paymentBindingMessage, type Payment } from '../common/payment';
import type { ProviderProfileName } from '../common/provider-profile';
import { requestApproval } from './request-approval';

export interface PaymentAgentInput {
  /** Who must approve (a login_hint the provider understands). */
  loginHint: string;
  payment: Payment;
  audience?: string;
  /** The worker's provider profile, so that the binding message fits the provider's rule (default generic). */
  providerProfile?: ProviderProfileName;
  /** How long the user has and how often to ask (defaults: provider's expiry, 24 h, up to 3 asks a minute apart). */
  approval?: Pick<
    ApprovalRequestInput,
    'requestedExpiry' | 'approvalTimeout' | 'askAgain' | 'continueAsNewAfterEvents' | 'ungrantedAuthorizationDetails'
  >;
}

export interface PaymentAgentResult {
  paymentId: string;
  status: string;
  approvedAt: string;
}

const { executePayment } = proxyActivities<PaymentActivities>({
  startToCloseTimeout: '30s',
  // The payments API is idempotent per workflow (Idempotency-Key), so a retry cannot pay twice.
  retry: { maximumAttempts: 5, nonRetryableErrorTypes: ['PaymentRefused'] },
});

export async function paymentAgent(input: PaymentAgentInput): Promise<PaymentAgentResult> {
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
    { key: 'payment' },
  );

  const receipt = await executePayment({ accessToken: approval.accessToken, payment: payment.data });
  return { paymentId: receipt.paymentId, status: receipt.status, approvedAt: approval.approvedAt };
}

/**
 * The sample agent's one side effect: execute a payment at the demo payments API with the access token the user's
 * approval produced. The API checks the token's signature, audience and `authorization_details` itself.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { fetch } from 'undici';
import { z } from 'zod';
import type { Payment } from '../common/payment';

export interface ExecutePaymentInput {
  accessToken: string;
  payment: Payment;
}

const PaymentReceiptSchema = z.object({ paymentId: z.string(), status: z.string() });
export type PaymentReceipt = z.infer<typeof PaymentReceiptSchema>;

export function createPaymentActivities(paymentsApiUrl: URL, timeoutMs: number) {
  return {
    async executePayment({ accessToken, payment }: ExecutePaymentInput): Promise<PaymentReceipt> {
      const { info } = Context.current();
      const response = await fetch(paymentsApiUrl, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${accessToken}`,
          'content-type': 'application/json',
          // One payment per workflow and activity, however often this activity is retried.
          'idempotency-key': `${info.workflowExecution?.workflowId}/${info.activityId}`,
        },
        body: JSON.stringify(payment),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const body: unknown = await response.json().catch(() => undefined);
      if (response.status === 401 || response.status === 403) {
        // The token does not authorize this payment: retrying cannot help.
        const error = (body as { error?: string } | undefined)?.error ?? `HTTP ${response.status}`;
        throw ApplicationFailure.nonRetryable(`the payments API refused the payment: ${error}`, 'PaymentRefused');
      }
      if (!response.ok) throw new Error(`the payments API answered HTTP ${response.status}`);
      return PaymentReceiptSchema.parse(body);
    },
  };
}

export type PaymentActivities = ReturnType<typeof createPaymentActivities>;

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
  /** The approval's request id (its start seal's): one payment per approval, whoever starts its workflow again. */
  idempotencyKey?: string;
}

const PaymentReceiptSchema = z.object({ paymentId: z.string(), status: z.string() });
export type PaymentReceipt = z.infer<typeof PaymentReceiptSchema>;

export function createPaymentActivities(paymentsApiUrl: URL, timeoutMs: number) {
  return {
    async executePayment({ accessToken, payment, idempotencyKey }: ExecutePaymentInput): Promise<PaymentReceipt> {
      const { info } = Context.current();
      const response = await fetch(paymentsApiUrl, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${accessToken}`,
          'content-type': 'application/json',
          // One payment per approval (workflows started before seals: per workflow), however often it is retried.
          'idempotency-key': idempotencyKey ?? `${info.workflowExecution?.workflowId}/${info.activityId}`,
        },
        body: JSON.stringify(payment),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const body: unknown = await response.json().catch(() => undefined);
      if (response.status === 401 || response.status === 403 || response.status === 422) {
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

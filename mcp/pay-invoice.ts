/**
 * The sample gated tool: `pay_invoice` pays an invoice at the demo payments API (the local provider's, as
 * activities/payments.ts does), only once the payer approved that exact payment on their device. The payment made is
 * the one the user approved (the approval request's payment_initiation, read back from the workflow), with the
 * approval's access token, server-side, and the approval's request id as Idempotency-Key: one payment per approval,
 * however often the result is asked for.
 */
import { z } from 'zod';
import { invoiceAuthorizationDetails, invoiceBindingMessage, InvoiceSchema } from '../agents/pay-invoice/invoice';
import { MAX_REQUESTED_EXPIRY_SECONDS, MIN_REQUESTED_EXPIRY_SECONDS } from '../common/approval';
import { PaymentSchema, type Payment } from '../common/payment';
import type { ProviderProfileName } from '../common/provider-profile';
import { approvalGated, type ApprovedCall, type GatedTool } from './gated-tool';
import { jsonResult } from './outcome';

export const PayInvoiceArgs = InvoiceSchema.extend({
  loginHint: z.string().min(1).max(512).describe('The payer, who approves on their device (e.g. alice@example.com)'),
  requestedExpiry: z
    .number()
    .int()
    .min(MIN_REQUESTED_EXPIRY_SECONDS)
    .max(MAX_REQUESTED_EXPIRY_SECONDS)
    .optional()
    .describe('Seconds the payer has to decide'),
});

/** The payment the user approved: the request's payment_initiation entry. */
export function approvedPayment(approved: ApprovedCall): Payment {
  const detail = approved.request.authorizationDetails?.find((d) => d.type === 'payment_initiation') as
    { instructedAmount?: { amount?: unknown; currency?: unknown }; creditorName?: unknown } | undefined;
  return PaymentSchema.parse({
    amount: detail?.instructedAmount?.amount,
    currency: detail?.instructedAmount?.currency,
    creditorName: detail?.creditorName,
  });
}

export function payInvoiceTool(options: { paymentsApiUrl: URL; profile?: ProviderProfileName }): GatedTool {
  return approvalGated({
    name: 'pay_invoice',
    title: 'Pay an invoice (after approval)',
    description:
      'Pay an invoice. The payer is asked to approve the exact payment on their device first; the payment runs ' +
      'only once approved. The result is the payment receipt, or why there was no payment (denied, expired, ...).',
    inputSchema: PayInvoiceArgs,
    approvalRequest: ({ loginHint, requestedExpiry, ...invoice }) => ({
      loginHint,
      bindingMessage: invoiceBindingMessage(invoice, options.profile),
      authorizationDetails: invoiceAuthorizationDetails(invoice),
      ...(requestedExpiry !== undefined && { requestedExpiry }),
    }),
    run: async (approved) => {
      const payment = approvedPayment(approved);
      const response = await fetch(options.paymentsApiUrl, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${approved.tokens.accessToken}`,
          'content-type': 'application/json',
          'idempotency-key': approved.requestId,
        },
        body: JSON.stringify(payment),
        signal: AbortSignal.timeout(15_000),
      });
      const body = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
      if (!response.ok) {
        return jsonResult(
          {
            approvalId: approved.approvalId,
            paid: false,
            reason: `the payments API answered ${response.status}`,
            error: body?.error,
          },
          true,
        );
      }
      // Never the tokens: this goes to the model.
      return jsonResult({
        approvalId: approved.approvalId,
        paid: true,
        paymentId: body?.paymentId,
        status: body?.status,
        ...payment,
        approvedAt: approved.tokens.approvedAt,
      });
    },
  });
}

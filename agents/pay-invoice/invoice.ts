/**
 * The pay-invoice agent's transaction: an invoice the model wants paid, the payment it becomes, and how the user is
 * asked (binding message, RFC 9396 `payment_initiation` with the invoice number as remittance information).
 *
 * Imported by workflow code: deterministic, zod only.
 */
import { z } from 'zod';
import type { AuthorizationDetail } from '../../common/approval';
import { PaymentSchema, paymentAuthorizationDetails, type Payment } from '../../common/payment';
import type { ProviderProfileName } from '../../common/provider-profile';

/** The pay tool's arguments, as the model gives them (the descriptions are the model's documentation). */
export const InvoiceSchema = z.strictObject({
  invoiceNumber: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,20}$/, 'invoiceNumber must be 1 to 20 letters, digits or dashes')
    .describe('The invoice number, e.g. INV-1001'),
  amount: PaymentSchema.shape.amount.describe('The amount to pay, a decimal string such as "50.00"'),
  currency: PaymentSchema.shape.currency.describe('ISO 4217 currency code, e.g. USD'),
  creditorName: PaymentSchema.shape.creditorName.describe('Who is paid: the name on the invoice'),
});
export type Invoice = z.infer<typeof InvoiceSchema>;

export function invoicePayment(invoice: Invoice): Payment {
  return { amount: invoice.amount, currency: invoice.currency, creditorName: invoice.creditorName };
}

/** What the user approves: the payment, with the invoice number as its remittance information. */
export function invoiceAuthorizationDetails(invoice: Invoice): AuthorizationDetail[] {
  return paymentAuthorizationDetails(invoicePayment(invoice)).map((detail) => ({
    ...detail,
    remittanceInformationUnstructured: `Invoice ${invoice.invoiceNumber}`,
  }));
}

/**
 * "Pay INV-1001 50.00 USD to ExampleCorp" within the provider profile's rule (Keycloak allows no spaces, at most 50
 * characters). Not cut to fit: a message that does not fit is refused before anything is sent.
 */
export function invoiceBindingMessage(invoice: Invoice, profile: ProviderProfileName = 'generic'): string {
  const words = ['Pay', invoice.invoiceNumber, invoice.amount, invoice.currency, 'to', invoice.creditorName];
  return profile === 'keycloak' ? words.join('-').replace(/[^a-zA-Z0-9\-._+/!?#]/g, '-') : words.join(' ');
}

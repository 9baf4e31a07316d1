/**
 * The sample agent's transaction: a payment, described to the user as an RFC 9396 `payment_initiation`
 * authorization details object (the RFC's own example type).
 */
import { z } from 'zod';
import type { AuthorizationDetail } from './approval';
import type { ProviderProfileName } from './provider-profile';

export const PaymentSchema = z.strictObject({
  /** Decimal string, as RFC 9396's example: "50.00". */
  amount: z.string().regex(/^\d{1,12}(\.\d{1,2})?$/, 'amount must be a decimal string such as "50.00"'),
  currency: z.string().regex(/^[A-Z]{3}$/, 'currency must be an ISO 4217 code such as "USD"'),
  creditorName: z.string().trim().min(1).max(140),
});
export type Payment = z.infer<typeof PaymentSchema>;

/** The example the docs, samples and shared test vectors use. */
export const EXAMPLE_PAYMENT: Payment = { amount: '50.00', currency: 'USD', creditorName: 'ExampleCorp' };

export function paymentAuthorizationDetails(payment: Payment): AuthorizationDetail[] {
  return [
    {
      type: 'payment_initiation',
      actions: ['initiate'],
      instructedAmount: { currency: payment.currency, amount: payment.amount },
      creditorName: payment.creditorName,
    },
  ];
}

/**
 * The binding message for a payment, within the provider profile's rule: "Pay 50.00 USD to ExampleCorp" (Auth0,
 * generic), "Pay-50.00-USD-to-ExampleCorp" (Keycloak allows no spaces).
 */
export function paymentBindingMessage(payment: Payment, profile: ProviderProfileName = 'generic'): string {
  const words = ['Pay', payment.amount, payment.currency, 'to', payment.creditorName];
  if (profile === 'keycloak')
    return words
      .join('-')
      .replace(/[^a-zA-Z0-9\-._+/!?#]/g, '-')
      .slice(0, 50);
  return words
    .join(' ')
    .slice(0, 64)
    .replace(/[^\p{L}\p{N} +\-_.,:#]/gu, ' ');
}

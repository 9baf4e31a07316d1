import { errors, type AuthorizationDetail, type RichAuthorizationRequestType } from 'oidc-provider';
import { z } from 'zod';

import { formatZodError } from '../common/approval';

const StringList = z.array(z.string().min(1));

/** RFC 9396 section 2 example type. Unknown extra members are allowed (kept as sent). */
export const PaymentInitiationSchema = z.looseObject({
  type: z.literal('payment_initiation'),
  locations: StringList.optional(),
  actions: StringList.optional(),
  instructedAmount: z.object({
    currency: z.string().regex(/^[A-Z]{3}$/, 'must be a 3-letter ISO 4217 code, e.g. "EUR"'),
    amount: z.string().regex(/^\d+(\.\d+)?$/, 'must be a decimal string, e.g. "123.50"'),
  }),
  creditorName: z.string().min(1),
  creditorAccount: z.record(z.string(), z.unknown()).optional(),
  remittanceInformationUnstructured: z.string().optional(),
});
export type PaymentInitiation = z.infer<typeof PaymentInitiationSchema>;

/** Free-form account access (RFC 9396 examples), only the common members are checked. */
const AccountInformationSchema = z.looseObject({
  type: z.literal('account_information'),
  locations: StringList.optional(),
  actions: StringList.optional(),
});

function validator(schema: z.ZodType): RichAuthorizationRequestType {
  return {
    validate(_ctx, detail) {
      const result = schema.safeParse(detail);
      if (!result.success) {
        throw new errors.InvalidAuthorizationDetails(`${detail.type}: ${formatZodError(result.error)}`);
      }
    },
  };
}

/** features.richAuthorizationRequests.types; any other type is rejected with invalid_authorization_details. */
export const authorizationDetailsTypes = {
  payment_initiation: validator(PaymentInitiationSchema),
  account_information: validator(AccountInformationSchema),
};

/** Human-readable line for the authentication device, e.g. "Pay 50.00 USD to ExampleCorp". */
export function describeAuthorizationDetail(detail: AuthorizationDetail): string {
  const payment = PaymentInitiationSchema.safeParse(detail);
  if (payment.success) {
    const { instructedAmount, creditorName, remittanceInformationUnstructured: note } = payment.data;
    return `Pay ${instructedAmount.amount} ${instructedAmount.currency} to ${creditorName}${note ? ` (${note})` : ''}`;
  }
  if (detail.type === 'account_information') {
    const actions = Array.isArray(detail.actions) ? detail.actions.join(', ') : 'access';
    const where = Array.isArray(detail.locations) ? ` at ${detail.locations.join(', ')}` : '';
    return `Account information: ${actions}${where}`;
  }
  return JSON.stringify(detail);
}

/**
 * One RFC 9396 authorization details object: the lowest layer of the approval's types, shared by the request
 * (approval.ts), the result (approval-result.ts) and the provider profiles (provider-profile.ts).
 */
import { z } from 'zod';

/**
 * One RFC 9396 authorization details object. `type` is required; every other member is kept as given
 * (each type defines its own fields, e.g. `payment_initiation`'s `instructedAmount`).
 */
export const AuthorizationDetailSchema = z.looseObject({
  type: z.string().min(1, 'every authorization_details entry needs a non-empty string "type"'),
});
export type AuthorizationDetail = z.infer<typeof AuthorizationDetailSchema>;

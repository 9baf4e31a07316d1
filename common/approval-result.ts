/**
 * What an approved approval hands back, as a zod schema: the source of the `ApprovalResult` type, of the HTTP API's
 * response, and of the result JSON Schema in contract/ (CONTRACT.md). Kept apart from common/approval.ts so that the
 * workflow bundle, which only needs the type, does not build this schema for every workflow.
 */
import { z } from 'zod';
import { AuthorizationDetailSchema } from './authorization-detail';

/**
 * The tokens an approval hands back: the provider's token response (TokenSet, activities/ciba-protocol.ts) and when
 * it came. Lives only in (encrypted) payloads, never in search attributes or logs.
 */
export const ApprovalResultSchema = z.object({
  tokenType: z.string().describe('The token type, e.g. "Bearer".'),
  accessToken: z.string().describe('The access token.'),
  idToken: z.string().optional().describe('The ID token, when the scope asked for openid.'),
  refreshToken: z.string().optional(),
  expiresIn: z.number().optional().describe('Access token lifetime in seconds, as the provider reported it.'),
  scope: z.string().optional(),
  authorizationDetails: z
    .array(AuthorizationDetailSchema)
    .optional()
    .describe('What the provider granted (RFC 9396), which may differ from what was asked.'),
  approvedAt: z.string().describe('When the approving token response was received (ISO 8601, workflow time).'),
});

export type ApprovalResult = z.output<typeof ApprovalResultSchema>;

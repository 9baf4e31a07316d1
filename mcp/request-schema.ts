/**
 * `request_approval`'s arguments: the approval request itself, `ApprovalRequestSchema` (common/approval.ts), as every
 * entry point takes it, without `seal` (the server seals each start). Its JSON Schema is generated from the zod schema
 * exactly as contract/approval-request.schema.json is (contract/generate.ts): the same properties, less `seal`.
 */
import { z } from 'zod';
import { ApprovalRequestSchema, type ApprovalRequestInput } from '../common/approval';
import type { GatedTool } from './gated-tool';

/** The request schema's superRefine has no JSON Schema form: exactly one way to name the user. */
const USER_HINTS = ['loginHint', 'loginHintToken', 'idTokenHint'] as const;

export const REQUEST_APPROVAL_DESCRIPTION =
  'Ask a person to approve something on their own device (OpenID CIBA with RFC 9396 authorization_details), ' +
  'durably: the approval is a Temporal workflow and survives restarts. Name the user (loginHint), say what they ' +
  'approve in bindingMessage (shown on their device) and, for a transaction, in authorizationDetails. With task ' +
  'support this is a task whose result is the outcome; without, it answers at once with approvalId and status ' +
  'pending: then call get_approval with wait. The outcome is approved (with the granted authorizationDetails) or a ' +
  'refusal with its reason (denied, expired, cancelled, ...). No token is ever returned.';

/** The JSON Schema the tool lists (draft 2020-12, MCP's default dialect). */
export function requestApprovalInputJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ApprovalRequestSchema, {
    io: 'input',
    unrepresentable: 'throw',
    target: 'draft-2020-12',
  }) as { properties: Record<string, unknown>; required?: string[] } & Record<string, unknown>;
  const { seal: _seal, ...properties } = schema.properties;
  return {
    ...schema,
    properties,
    ...(schema.required && { required: schema.required.filter((name) => name !== 'seal') }),
    oneOf: USER_HINTS.map((hint) => ({ required: [hint] })),
  };
}

/** `request_approval` as an approval tool: its arguments are the request; its result is the outcome. */
export const requestApprovalTool: GatedTool = {
  name: 'request_approval',
  title: 'Ask a person to approve',
  description: REQUEST_APPROVAL_DESCRIPTION,
  inputSchema: ApprovalRequestSchema,
  approvalRequest: (args) => args as ApprovalRequestInput,
};

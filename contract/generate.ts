/**
 * The contract for callers in other languages (CONTRACT.md), generated from the code that enforces it: the request
 * and result JSON Schemas from the zod schemas, the failure types from common/outcomes.ts, the names from where they
 * are defined. `npm run contract` writes the files; test/contract.test.ts fails when a committed one is stale.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { EXAMPLE_PAYMENT, paymentAuthorizationDetails } from '../common/payment';
import { z } from 'zod';
import { ApprovalRequestSchema } from '../common/approval';
import { ApprovalResultSchema } from '../common/approval-result';
import { approvalDetails, approvalSummary, listSummary, type SummarySource } from '../common/approval-summary';
import { DEFAULT_TASK_QUEUE } from '../common/config';
import { FAILURE_OUTCOMES } from '../common/outcomes';
import { ENCRYPTED_ENCODING, KEY_ID_METADATA } from '../common/payload-codec';
import { SEARCH_ATTRIBUTES } from '../common/search-attributes';
import { APPROVAL_ID_PREFIX } from '../client/approvals';

export const CONTRACT_DIR = __dirname;

/** The request names its user by exactly one of these (ApprovalRequestSchema's refinement). */
const USER_HINTS = ['loginHint', 'loginHintToken', 'idTokenHint'] as const;

function schemaOf(schema: z.ZodType, io: 'input' | 'output', title: string, description: string): unknown {
  return { title, description, ...z.toJSONSchema(schema, { io, unrepresentable: 'throw', target: 'draft-2020-12' }) };
}

/** Requests whose summary and details every client library must write exactly as common/approval-summary.ts does. */
const SUMMARY_CASES: SummarySource[] = [
  {
    loginHint: 'alice@example.com',
    bindingMessage: 'Pay 50.00 USD to ExampleCorp',
    authorizationDetails: paymentAuthorizationDetails(EXAMPLE_PAYMENT),
  },
  {
    loginHint: 'bob',
    bindingMessage: 'Two things',
    authorizationDetails: [
      { type: 'account_information', actions: ['read', 'list'], locations: ['https://bank.example/'] },
      {
        type: 'custom_thing',
        limits: { max: 3, currency: null },
        tags: ['a|b', '<script>', '*x*'],
        empty: [],
        flag: true,
      },
    ],
  },
  { loginHint: 'user-123456', bindingMessage: 'Deploy release 4.2 to production' },
  { loginHint: '{"format":"iss_sub","iss":"https://i.example/","sub":"s-1"}', bindingMessage: 'x' },
  {
    loginHintToken: 'token',
    bindingMessage: 'Rotate keys',
    authorizationDetails: [{ type: 'key_rotation', ids: [1, 2.5] }],
  },
  { idTokenHint: 'eyJ...', bindingMessage: 'y'.repeat(250) },
  { loginHint: 'zoë@example.com', bindingMessage: 'Überweisung ✓ '.repeat(20) },
  { bindingMessage: 'Line\nbreak (and [link](x))', authorizationDetails: 'not a list' } as unknown as SummarySource,
];

/** Every generated file of contract/, by file name, as it must be committed. */
export function contractFiles(): Record<string, string> {
  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  return {
    'approval-request.schema.json': json({
      ...(schemaOf(
        ApprovalRequestSchema,
        'input',
        'ApprovalRequest',
        'The input of the cibaApproval workflow (its only argument). Durations: whole seconds or "90s", "15m", "24h", "3d".',
      ) as object),
      // The schema's superRefine (zod refinements have no JSON Schema form): exactly one way to name the user.
      oneOf: USER_HINTS.map((hint) => ({ required: [hint] })),
    }),
    'approval-result.schema.json': json(
      schemaOf(
        ApprovalResultSchema,
        'output',
        'ApprovalResult',
        'The result of a cibaApproval workflow that ended approved.',
      ),
    ),
    'vectors/summaries.json': json(
      SUMMARY_CASES.map((request) => ({
        request,
        summary: approvalSummary(request),
        listSummary: listSummary(request),
        details: approvalDetails(request),
      })),
    ),
    'contract.json': json({
      workflowType: 'cibaApproval',
      defaultTaskQueue: DEFAULT_TASK_QUEUE,
      workflowIdPrefix: APPROVAL_ID_PREFIX,
      payloadCodec: {
        algorithm: 'AES-256-GCM',
        encoding: ENCRYPTED_ENCODING,
        keyIdMetadata: KEY_ID_METADATA,
        keyId: 'k- + hex of the first 8 bytes of SHA-256(key)',
        data: '12-byte IV || ciphertext || 16-byte tag; the plaintext is the original Payload in protobuf binary',
      },
      searchAttributes: SEARCH_ATTRIBUTES,
      failureTypes: Object.fromEntries(
        Object.entries(FAILURE_OUTCOMES).map(([type, outcome]) => [
          type,
          { status: 'status' in outcome ? outcome.status : null, exitCode: outcome.exitCode, meaning: outcome.meaning },
        ]),
      ),
    }),
  };
}

if (require.main === module) {
  for (const [name, content] of Object.entries(contractFiles())) {
    writeFileSync(path.join(CONTRACT_DIR, name), content);
    console.log(`wrote contract/${name}`);
  }
}

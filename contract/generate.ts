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
import {
  derivedRequestId,
  SEAL_CLOCK_SKEW_SECONDS,
  SEAL_FRESHNESS_SECONDS,
  sealFor,
  sealProblem,
  type SealedRun,
} from '../common/start-seal';

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

/** Seals (and runs) whose verdict every client library's check must give exactly as common/start-seal.ts does. */
function sealCases(): { name: string; seal?: unknown; run: SealedRun }[] {
  const runStartMs = Date.parse('2026-01-01T12:00:00.000Z');
  const run: SealedRun = { workflowId: 'agent-1', runStartMs, continued: false };
  const requestId = '9b2f3c4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f';
  const good = { workflowId: 'agent-1', issuedAt: '2026-01-01T11:59:00.000Z', requestId };
  const issued = (secondsBeforeRun: number) => new Date(runStartMs - secondsBeforeRun * 1000).toISOString();
  const wide = '\u{1F600}'.repeat(500); // 1000 UTF-16 code units, 500 characters
  const cases: { name: string; seal?: unknown; run?: Partial<SealedRun> }[] = [
    { name: 'no seal' },
    { name: 'null', seal: null },
    { name: 'a string', seal: 'agent-1' },
    { name: 'an empty object', seal: {} },
    { name: 'good', seal: good },
    { name: 'an unknown key', seal: { ...good, extra: 1 } },
    { name: 'requestId missing', seal: { workflowId: good.workflowId, issuedAt: good.issuedAt } },
    { name: 'issuedAt a number', seal: { ...good, issuedAt: runStartMs } },
    { name: 'empty workflowId', seal: { ...good, workflowId: '' }, run: { workflowId: '' } },
    { name: 'workflowId of 1000 UTF-16 units', seal: { ...good, workflowId: wide }, run: { workflowId: wide } },
    {
      name: 'workflowId of 1002 UTF-16 units',
      seal: { ...good, workflowId: `${wide}\u{1F600}` },
      run: { workflowId: `${wide}\u{1F600}` },
    },
    { name: 'issuedAt with an offset', seal: { ...good, issuedAt: '2026-01-01T12:59:00+01:00' } },
    { name: 'issuedAt with nanoseconds', seal: { ...good, issuedAt: '2026-01-01T11:59:00.123456789Z' } },
    { name: 'issuedAt without seconds', seal: { ...good, issuedAt: '2026-01-01T11:59Z' } },
    { name: 'issuedAt without an offset', seal: { ...good, issuedAt: '2026-01-01T11:59:00' } },
    { name: 'issuedAt with offset +0100', seal: { ...good, issuedAt: '2026-01-01T12:59:00+0100' } },
    { name: 'issuedAt in lower case', seal: { ...good, issuedAt: '2026-01-01t11:59:00z' } },
    { name: 'issuedAt with a space', seal: { ...good, issuedAt: '2026-01-01 11:59:00Z' } },
    { name: 'issuedAt at 24:00', seal: { ...good, issuedAt: '2025-12-31T24:00:00Z' } },
    { name: 'issuedAt on 29 February of a common year', seal: { ...good, issuedAt: '2025-02-29T00:00:00Z' } },
    { name: 'issuedAt on 29 February of a leap year (old)', seal: { ...good, issuedAt: '2024-02-29T00:00:00Z' } },
    { name: 'requestId of 15 characters', seal: { ...good, requestId: 'a'.repeat(15) } },
    { name: 'requestId of 16 characters', seal: { ...good, requestId: 'a'.repeat(16) } },
    { name: 'requestId of 1000 characters', seal: { ...good, requestId: 'a'.repeat(1000) } },
    { name: 'requestId of 1001 characters', seal: { ...good, requestId: 'a'.repeat(1001) } },
    { name: 'requestId of every allowed character', seal: { ...good, requestId: 'Az09_.:/@#%-Az09_.:/@#%-' } },
    { name: 'requestId with a space', seal: { ...good, requestId: `${requestId} x` } },
    { name: 'requestId with a non-ASCII letter', seal: { ...good, requestId: `${requestId}é` } },
    { name: 'requestId with a parenthesis', seal: { ...good, requestId: `${requestId}(1)` } },
    { name: 'requestId with a trailing newline', seal: { ...good, requestId: `${requestId}\n` } },
    { name: 'made for another workflow', seal: { ...good, workflowId: 'agent-2' } },
    {
      name: 'made for another workflow, quoted',
      seal: { ...good, workflowId: 'agent "1" zoë ✓\n' },
      run: { workflowId: 'agent-1\t' },
    },
    {
      name: 'made for another workflow, in a continued run',
      seal: { ...good, workflowId: 'x' },
      run: { continued: true },
    },
    { name: 'exactly the freshness window old', seal: { ...good, issuedAt: issued(SEAL_FRESHNESS_SECONDS) } },
    { name: 'a millisecond too old', seal: { ...good, issuedAt: issued(SEAL_FRESHNESS_SECONDS + 0.001) } },
    { name: 'half a second too old (rounds up)', seal: { ...good, issuedAt: issued(SEAL_FRESHNESS_SECONDS + 0.5) } },
    { name: 'a day old', seal: { ...good, issuedAt: issued(86_400) } },
    { name: 'a day old, in a continued run', seal: { ...good, issuedAt: issued(86_400) }, run: { continued: true } },
    { name: 'exactly the clock skew ahead', seal: { ...good, issuedAt: issued(-SEAL_CLOCK_SKEW_SECONDS) } },
    {
      name: 'a millisecond beyond the clock skew',
      seal: { ...good, issuedAt: issued(-SEAL_CLOCK_SKEW_SECONDS - 0.001) },
    },
    { name: 'an hour ahead (rounds half up)', seal: { ...good, issuedAt: issued(-3600.5) } },
    { name: 'year 0000', seal: { ...good, issuedAt: '0000-01-01T00:00:00Z' } },
  ];
  return cases.map(({ name, seal, run: overrides }) => ({ name, seal, run: { ...run, ...overrides } }));
}

/** Keys whose derived request id every client library must make exactly as common/start-seal.ts does. */
const DERIVATION_KEYS = ['payment', '#1', 'pay-1', 'a b/c?d=e&f#g', "!~*'()", 'zoë ✓', '\u{1F600}', '%41', ''];

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
    'vectors/start-seals.json': json({
      freshnessSeconds: SEAL_FRESHNESS_SECONDS,
      clockSkewSeconds: SEAL_CLOCK_SKEW_SECONDS,
      checks: sealCases().map(({ name, seal, run }) => ({
        name,
        ...(seal !== undefined && { seal }),
        run,
        problem: sealProblem(seal, run) ?? null,
      })),
      derivations: DERIVATION_KEYS.map((key) => ({
        parentRequestId: '9b2f3c4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f',
        key,
        requestId: derivedRequestId('9b2f3c4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f', key),
      })),
      seals: [0, 1_767_268_800_123, 1_767_268_800_000, 253_402_300_799_999].map((issuedAtMs) => ({
        workflowId: 'agent-1/approval/payment',
        requestId: '9b2f3c4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f/approval/payment',
        issuedAtMs,
        seal: sealFor('agent-1/approval/payment', '9b2f3c4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f/approval/payment', issuedAtMs),
      })),
    }),
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

/**
 * The HTTP API's responses, as zod schemas: Fastify serializes every response through them (fastify-type-provider-
 * zod), and the OpenAPI document is generated from them. The request body is `ApprovalRequestSchema`
 * (common/approval.ts), the schema the client library and the workflow check too.
 */
import { z } from 'zod';
import { ApprovalResultSchema } from '../common/approval-result';
import { FAILURE_OUTCOMES } from '../common/outcomes';

/** RFC 9457 problem types of this API are URNs under this prefix; a failed approval's is `<prefix><failure type>`. */
export const PROBLEM_TYPE_PREFIX = 'urn:ciba-temporal:problem:';
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** The schemas the OpenAPI document names (its components), in a registry of the API's own. */
export const apiSchemaRegistry = z.registry<{ id: string; description?: string }>();

export const FAILURE_TYPES = Object.keys(FAILURE_OUTCOMES) as [keyof typeof FAILURE_OUTCOMES];

export const FieldErrorSchema = z
  .object({
    /** Where the value is: the body, a header, the query string or the path. */
    in: z.enum(['body', 'header', 'query', 'path']),
    /** RFC 6901 JSON pointer to the value in the body ("" is the body itself); for the other places, to the name. */
    pointer: z.string(),
    /** The same place as a list of property names and array indexes. */
    path: z.array(z.union([z.string(), z.number()])),
    /** What is wrong, in zod's words. */
    detail: z.string(),
  })
  .register(apiSchemaRegistry, { id: 'FieldError' });
export type FieldError = z.infer<typeof FieldErrorSchema>;

/** RFC 9457 problem details. Extension members: `errors` (bad input), `failureType`, `failureDetails`. */
export const ProblemSchema = z
  .looseObject({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    /** Bad input: every offending value. */
    errors: z.array(FieldErrorSchema).optional(),
    /** An approval that ended without tokens: why (common/outcomes.ts); `type` ends with the same name. */
    failureType: z.enum(FAILURE_TYPES).optional(),
    /** The failure's details, as the client library reports them (e.g. the provider's error). */
    failureDetails: z.array(z.unknown()).optional(),
  })
  .register(apiSchemaRegistry, { id: 'Problem' });
export type Problem = z.infer<typeof ProblemSchema>;

export const StartedSchema = z
  .object({
    /** The approval's id (its Temporal workflow id). */
    id: z.string(),
    /** false when this Idempotency-Key had already started it (a retry). */
    started: z.boolean(),
  })
  .register(apiSchemaRegistry, { id: 'StartedApproval' });

const ApprovalStatusWord = z.enum(['initiating', 'pending', 'approved', 'denied', 'expired', 'failed', 'cancelled']);

/** The approval's own status (ApprovalState, common/approval.ts) without the provider's auth_req_ids. */
export const ApprovalStateSchema = z
  .object({
    status: ApprovalStatusWord,
    bindingMessage: z.string(),
    approvalDeadline: z.string(),
    askCount: z.number().int(),
    asks: z.array(
      z.object({
        number: z.number().int(),
        reason: z.enum(['first', 'expired', 'lost_token_response']),
        askedAt: z.string(),
        expiresAt: z.string().optional(),
        outcome: z.enum(['approved', 'not_granted', 'denied', 'expired', 'lost_token_response']).optional(),
      }),
    ),
    continuedAsNew: z.number().int(),
    expiresAt: z.string().optional(),
    intervalSeconds: z.number().optional(),
    polls: z.number().int(),
    slowDowns: z.number().int(),
    lastPollAt: z.string().optional(),
    lastPollOutcome: z.string().optional(),
    failure: z.object({ type: z.string(), message: z.string() }).optional(),
  })
  .register(apiSchemaRegistry, { id: 'ApprovalState' });

export const StatusSchema = z
  .object({
    id: z.string(),
    /** Temporal's view: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT, ... */
    execution: z.string(),
    /** The approval's own view; absent when no worker answered its status query. */
    approval: ApprovalStateSchema.optional(),
    /** How a failed approval ended when its status query could not say. */
    failure: z.object({ type: z.string(), message: z.string() }).optional(),
  })
  .register(apiSchemaRegistry, { id: 'ApprovalStatus' });
export type StatusBody = z.infer<typeof StatusSchema>;

/** The tokens of an approved approval: the workflow's result (ApprovalResultSchema), with the approval's id. */
export const ResultSchema = ApprovalResultSchema.extend({
  id: z.string(),
  status: z.literal('approved'),
}).register(apiSchemaRegistry, { id: 'ApprovalTokens' });

export const CancelSchema = z
  .object({ id: z.string(), cancellation: z.literal('requested') })
  .register(apiSchemaRegistry, { id: 'CancellationRequested' });

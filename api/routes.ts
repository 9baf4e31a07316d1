/**
 * The HTTP API's routes over `ApprovalClient` (client/approvals.ts): start an approval, read its status, wait for its
 * result, cancel it. Every route needs an API key (api/app.ts authenticates); every approval route serves only the
 * approval's owner (api/approval-ids.ts).
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { WorkflowNotFoundError } from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { z } from 'zod';
import {
  ApprovalFailedError,
  ApprovalKeyMismatchError,
  InvalidApprovalRequestError,
  type ApprovalClient,
  type ApprovalStatusReport,
} from '../client/approvals';
import { ApprovalRequestSchema, type ApprovalRequest } from '../common/approval';
import { FAILURE_OUTCOMES } from '../common/outcomes';
import { profileViolations, type ProviderProfile } from '../common/provider-profile';
import type { ApprovalIds } from './approval-ids';
import {
  invalidRequest,
  jsonPointer,
  jsonResponse,
  problem,
  ProblemError,
  problemResponses,
  sendProblem,
} from './problem';
import {
  CancelSchema,
  PROBLEM_TYPE_PREFIX,
  ResultSchema,
  StartedSchema,
  StatusSchema,
  type FieldError,
  type Problem,
  type StatusBody,
} from './schemas';

export const SECURITY_SCHEME = 'apiKey';

export interface RouteSettings {
  approvals: ApprovalClient;
  ids: ApprovalIds;
  /** The provider profile every start is checked against before anything starts. */
  profile: ProviderProfile;
  defaultWaitSeconds: number;
  maxWaitSeconds: number;
  startsPerMinute: number;
}

/**
 * Idempotency-Key values: printable ASCII, without spaces at either end (HTTP drops them: a key that began or ended
 * with one would arrive as another key).
 */
const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7E](?:[\x20-\x7E]{0,253}[\x21-\x7E])?$/;

/**
 * Request members that may not begin or end with whitespace. The request schema trims them (common/approval.ts), so
 * " alice" would be taken as "alice", and a length limit would count what is left; the API refuses them instead, so
 * that what a caller sends is what is checked and what starts (and the OpenAPI document can say so exactly).
 */
export const TRIMMED_STRING_FIELDS = ['loginHint', 'loginHintToken', 'idTokenHint', 'audience', 'scope', 'acrValues'];

/** The members of a start's body that begin or end with whitespace (acrValues: each entry). */
function untrimmedMembers(body: unknown): FieldError[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return [];
  const errors: FieldError[] = [];
  const check = (value: unknown, path: (string | number)[]) => {
    if (typeof value === 'string' && /^\s|\s$/.test(value)) {
      errors.push({
        in: 'body',
        pointer: jsonPointer(path),
        path,
        detail: `${path.join('.')} may not begin or end with whitespace`,
      });
    }
  };
  for (const field of TRIMMED_STRING_FIELDS) {
    const value = (body as Record<string, unknown>)[field];
    if (Array.isArray(value)) value.forEach((entry, index) => check(entry, [field, index]));
    else check(value, [field]);
  }
  return errors;
}

const ApprovalIdParams = z.object({
  id: z.string().min(1).max(400).describe('The approval id that POST /approvals returned'),
});

/** Registers the approval routes in `scope`, whose requests are authenticated (request.apiKeyId). */
export async function registerApprovalRoutes(scope: FastifyInstance, settings: RouteSettings): Promise<void> {
  const { approvals, ids, profile, defaultWaitSeconds: defaultWait, maxWaitSeconds: maxWait } = settings;

  // Per API key, in this process's memory: see ApiOptions.startsPerMinute (api/app.ts).
  await scope.register(rateLimit, { global: false });

  /**
   * 403 for every approval the caller does not own, decided from the id alone before anything is looked up:
   * approvals started by another key, approvals not started through this API (the CLI's, an agent workflow's), and
   * ids whose tag does not verify (api/approval-ids.ts), whether they exist or not. Answering 403 rather than 404
   * tells the caller "not yours" and reveals nothing: it is the same answer for ids that exist and ids that do not.
   * Tokens, status and cancellation are only ever served to the key that started the approval.
   */
  const ownApproval = (request: FastifyRequest, reply: FastifyReply, id: string): boolean => {
    if (ids.owner(id) === request.apiKeyId) return true;
    sendProblem(reply, problem(403, { detail: 'this approval was not started with this API key' }));
    return false;
  };

  const api = scope.withTypeProvider<ZodTypeProvider>();
  const security = [{ [SECURITY_SCHEME]: [] }];

  api.post(
    '/approvals',
    {
      config: {
        rateLimit: {
          max: settings.startsPerMinute,
          timeWindow: 60_000,
          // After authentication (the scope's onRequest hook): the key, not the address, is who starts.
          keyGenerator: (request: FastifyRequest) => `starts:${request.apiKeyId}`,
          errorResponseBuilder: (request: FastifyRequest, context: { max: number; after: string }) =>
            new ProblemError(
              problem(429, {
                type: `${PROBLEM_TYPE_PREFIX}rate-limited`,
                title: 'Too many starts with this API key',
                detail:
                  `API key ${request.apiKeyId} started more than ${context.max} approvals in a minute (on this API ` +
                  `instance): retry in ${context.after} (Retry-After)`,
              }),
            ),
        },
      },
      preValidation: async (request) => {
        const untrimmed = untrimmedMembers(request.body);
        if (untrimmed.length) {
          throw new ProblemError(invalidRequest(untrimmed.map((error) => error.detail).join('; '), untrimmed));
        }
      },
      schema: {
        operationId: 'startApproval',
        summary: 'Ask a user to approve (idempotent by Idempotency-Key)',
        description:
          'Starts an approval: the user is asked on their device. The Idempotency-Key header is required: your id ' +
          'of this request, under your API key. The same Idempotency-Key with the same body returns the same ' +
          'approval (200) and asks nobody again, whether it is running or has ended; with another body it is ' +
          `refused (422). At most ${settings.startsPerMinute} starts a minute per API key (per API instance; ` +
          'retries count): beyond that 429, with Retry-After.',
        security,
        headers: z.looseObject({
          'idempotency-key': z
            .string()
            .max(255)
            .regex(
              IDEMPOTENCY_KEY_PATTERN,
              'Idempotency-Key must be 1 to 255 printable ASCII characters, not beginning or ending with a space',
            )
            .describe(
              'Required. Your id of this request (1 to 255 printable ASCII characters): a retry with the same key ' +
                'and body returns the same approval instead of asking the user again.',
            ),
        }),
        body: ApprovalRequestSchema,
        response: {
          200: jsonResponse('A retry: the approval this Idempotency-Key started', StartedSchema),
          201: jsonResponse('Started: the user is being asked', StartedSchema),
          ...problemResponses(400, 401, 413, 415, 422, 429, 500),
        },
      },
    },
    async (request, reply) => {
      const body = request.body as ApprovalRequest;
      if (body.seal !== undefined) {
        return sendProblem(
          reply,
          invalidRequest('seal: the API seals every start itself; leave it out', [
            { in: 'body', pointer: '/seal', path: ['seal'], detail: 'set by the API, not by callers' },
          ]),
        );
      }
      const violations = profileViolations(profile, body, { repeatable: body.askAgain.afterLostAnswer });
      if (violations.length) {
        return sendProblem(
          reply,
          invalidRequest(
            violations.map((violation) => violation.message).join('; '),
            violations.map((violation) => ({
              in: 'body' as const,
              pointer: `/${violation.field}`,
              path: [violation.field],
              detail: violation.message,
            })),
          ),
        );
      }
      const key = ids.keyFor(request.apiKeyId, request.headers['idempotency-key'] as string);
      let started;
      try {
        started = await approvals.start(body, { key });
      } catch (error) {
        if (error instanceof InvalidApprovalRequestError) return sendProblem(reply, invalidRequest(error.message));
        throw error;
      }
      reply.header('location', `/approvals/${encodeURIComponent(started.workflowId)}`);
      if (!started.started && !(await sameRequest(approvals, started.workflowId, body))) {
        return sendProblem(
          reply,
          problem(422, {
            type: `${PROBLEM_TYPE_PREFIX}idempotency-key-reused`,
            title: 'Idempotency-Key already used for another request',
            detail: 'this Idempotency-Key started an approval with a different body; use a new key for a new request',
          }),
        );
      }
      return reply.code(started.started ? 201 : 200).send({ id: started.workflowId, started: started.started });
    },
  );

  api.get(
    '/approvals/:id',
    {
      schema: {
        operationId: 'getApproval',
        summary: 'The status of an approval (never its tokens)',
        security,
        params: ApprovalIdParams,
        response: { 200: jsonResponse('The status', StatusSchema), ...problemResponses(400, 401, 403, 404, 500) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      if (!ownApproval(request, reply, id)) return reply;
      try {
        return reply.send(statusBody(await approvals.status(id)));
      } catch (error) {
        return sendProblem(reply, lookupProblem(error, id));
      }
    },
  );

  api.get(
    '/approvals/:id/result',
    {
      schema: {
        operationId: 'getApprovalResult',
        summary: 'Wait for the outcome: the tokens, why there are none, or still pending',
        description:
          `Waits up to \`wait\` seconds (default ${defaultWait}, at most ${maxWait}) for the approval to end. ` +
          '200: approved, with the tokens. 409: it ended without tokens; the problem type ends with the failure ' +
          'type (ApprovalDenied, ApprovalExpired, ...). 202: still pending when the wait ran out (the body is its ' +
          'status): ask again. A client whose HTTP timeout is shorter than the wait should pass a shorter wait.',
        security,
        params: ApprovalIdParams,
        querystring: z.object({
          wait: z
            .string()
            .regex(/^[0-9]{1,9}$/, 'wait must be whole seconds')
            .transform(Number)
            .pipe(z.number().max(maxWait, `wait must be at most ${maxWait} seconds`))
            .optional()
            .describe(`Seconds to wait for the outcome (default ${defaultWait}, at most ${maxWait})`),
        }),
        response: {
          200: jsonResponse('Approved: the tokens', ResultSchema),
          202: jsonResponse('Still pending when the wait ran out: its status', StatusSchema),
          ...problemResponses(400, 401, 403, 404, 409, 500),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      if (!ownApproval(request, reply, id)) return reply;
      const outcome = await waitForOutcome(approvals, id, request.query.wait ?? defaultWait, reply);
      if (outcome.kind === 'problem') return sendProblem(reply, outcome.problem);
      if (outcome.kind === 'pending') return reply.code(202).send(outcome.status);
      // Tokens: never cached, never logged.
      reply.header('cache-control', 'no-store');
      return reply.code(200).send({ id, status: 'approved' as const, ...outcome.result });
    },
  );

  api.post(
    '/approvals/:id/cancel',
    {
      schema: {
        operationId: 'cancelApproval',
        summary: 'Stop asking: the approval ends cancelled once its current step has stopped',
        security,
        params: ApprovalIdParams,
        response: {
          202: jsonResponse('Cancellation requested', CancelSchema),
          ...problemResponses(400, 401, 403, 404, 409, 413, 415, 500),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      if (!ownApproval(request, reply, id)) return reply;
      let execution: string;
      try {
        execution = (await approvals.client.workflow.getHandle(id).describe()).status.name;
      } catch (error) {
        return sendProblem(reply, lookupProblem(error, id));
      }
      if (execution !== 'RUNNING') {
        return sendProblem(
          reply,
          problem(409, {
            type: `${PROBLEM_TYPE_PREFIX}approval-ended`,
            title: 'The approval has ended',
            detail: `the approval has already ended (${execution}); GET its result to see how`,
          }),
        );
      }
      // Cancelling twice is fine: Temporal keeps one cancellation request.
      await approvals.cancel(id);
      return reply.code(202).send({ id, cancellation: 'requested' as const });
    },
  );
}

/** The status report without anything token-like (the provider's auth_req_ids stay inside). */
function statusBody(report: ApprovalStatusReport): StatusBody {
  const body: StatusBody = { id: report.workflowId, execution: report.execution };
  if (report.approval) {
    const { authReqId: _authReqId, asks, ...state } = report.approval;
    body.approval = { ...state, asks: asks.map(({ authReqId: _id, ...ask }) => ask) };
  }
  if (report.failure) body.failure = report.failure;
  return body;
}

function lookupProblem(error: unknown, id: string): Problem {
  if (error instanceof WorkflowNotFoundError) return problem(404, { detail: `no approval ${id}` });
  if (error instanceof ApprovalKeyMismatchError && error.unreadableBy === 'client') {
    return problem(500, {
      type: `${PROBLEM_TYPE_PREFIX}PayloadKeyMismatch`,
      title: 'The API cannot read this approval',
      detail: 'the approval was written with a payload key this API does not have (see its CIBA_PAYLOAD_* settings)',
    });
  }
  throw error;
}

type Outcome =
  | { kind: 'approved'; result: Awaited<ReturnType<ApprovalClient['result']>> }
  | { kind: 'pending'; status: StatusBody }
  | { kind: 'problem'; problem: Problem };

/** The approval's outcome within `waitSeconds`; the wait also ends when the caller goes away. */
async function waitForOutcome(
  approvals: ApprovalClient,
  id: string,
  waitSeconds: number,
  reply: FastifyReply,
): Promise<Outcome> {
  let running: boolean;
  try {
    running = (await approvals.client.workflow.getHandle(id).describe()).status.name === 'RUNNING';
  } catch (error) {
    return { kind: 'problem', problem: lookupProblem(error, id) };
  }
  const stop = new AbortController();
  const timer = running ? setTimeout(() => stop.abort(), waitSeconds * 1000) : undefined;
  const onClose = () => stop.abort();
  reply.raw.once('close', onClose);
  try {
    // The client's long poll of the history, cancelled when the wait runs out (nothing keeps polling after it).
    const result = await approvals.client.withAbortSignal(stop.signal, () => approvals.result(id));
    return { kind: 'approved', result };
  } catch (error) {
    if (error instanceof ApprovalKeyMismatchError && error.unreadableBy === 'client') {
      return { kind: 'problem', problem: lookupProblem(error, id) };
    }
    if (error instanceof ApprovalFailedError) return { kind: 'problem', problem: failureProblem(error) };
    if (!stop.signal.aborted) throw error;
    try {
      return { kind: 'pending', status: statusBody(await approvals.status(id)) };
    } catch (statusError) {
      return { kind: 'problem', problem: lookupProblem(statusError, id) };
    }
  } finally {
    clearTimeout(timer);
    reply.raw.off('close', onClose);
  }
}

/** 409: the approval ended without tokens; the problem type names the failure type (common/outcomes.ts). */
function failureProblem(error: ApprovalFailedError): Problem {
  const known = error.type in FAILURE_OUTCOMES ? (error.type as keyof typeof FAILURE_OUTCOMES) : undefined;
  return problem(409, {
    type: `${PROBLEM_TYPE_PREFIX}${error.type}`,
    title: known
      ? `${FAILURE_OUTCOMES[known].meaning[0]!.toUpperCase()}${FAILURE_OUTCOMES[known].meaning.slice(1)}`
      : error.type,
    detail: error.message,
    ...(known ? { failureType: known } : {}),
    ...(error.details.length ? { failureDetails: error.details } : {}),
  });
}

/** JSON with object keys sorted: two requests are the same when their canonical forms are. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item ?? null)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, child]) => child !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, child]) => `${JSON.stringify(key)}:${canonicalJson(child)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Whether the approval `workflowId` was started with this same request. The approval's input, as its workflow got it
 * (the first event of its latest run: a run continued as new carries the same request), is read back and decrypted
 * with the payload key this API starts approvals with; nothing else is stored, and no secret in plaintext anywhere.
 * The start seal (common/start-seal.ts), made anew for each start, is not part of the request.
 */
async function sameRequest(approvals: ApprovalClient, workflowId: string, body: ApprovalRequest): Promise<boolean> {
  const { client } = approvals;
  const response = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId },
    maximumPageSize: 1,
  });
  const started = response.history?.events?.[0]?.workflowExecutionStartedEventAttributes;
  const stored = await decodeFromPayloadsAtIndex<unknown>(
    client.options.loadedDataConverter,
    0,
    started?.input?.payloads,
  ).catch(() => undefined);
  const parsed = ApprovalRequestSchema.safeParse(stored);
  if (!parsed.success) return false;
  const { seal: _stored, ...storedRequest } = parsed.data;
  const { seal: _given, ...givenRequest } = ApprovalRequestSchema.parse(body);
  return canonicalJson(storedRequest) === canonicalJson(givenRequest);
}

/**
 * The HTTP API for agent services that are not on Temporal: start an approval, read its status, wait for its result,
 * cancel it — over `ApprovalClient` (client/approvals.ts). Requests and responses are validated by zod schemas
 * (fastify-type-provider-zod); the body is `ApprovalRequestSchema`, the schema the client library and the workflow
 * check. Every error is RFC 9457 `application/problem+json`, Fastify's own included. The OpenAPI 3.1 document is
 * generated from the same schemas (GET /openapi.json; committed as api/openapi.json, `npm run api:openapi`).
 *
 * Who owns an approval: the API key that started it. Its id is part of the approval's id
 * (`ciba-approval-api.<key id>.<Idempotency-Key>`), so the owner is known from the id alone.
 */
import { createHash } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifySchemaCompiler,
  type FastifyServerOptions,
} from 'fastify';
import fastifySwagger from '@fastify/swagger';
import {
  createJsonSchemaTransform,
  createJsonSchemaTransformObject,
  serializerCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { WorkflowNotFoundError } from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { z } from 'zod';
import {
  APPROVAL_ID_PREFIX,
  ApprovalFailedError,
  ApprovalKeyMismatchError,
  InvalidApprovalRequestError,
  type ApprovalClient,
  type ApprovalStatusReport,
} from '../client/approvals';
import { ApprovalRequestSchema, type ApprovalRequest } from '../common/approval';
import { FAILURE_OUTCOMES } from '../common/outcomes';
import { PROVIDER_PROFILES, profileViolations } from '../common/provider-profile';
import type { ApiKeys } from './keys';
import {
  apiSchemaRegistry,
  CancelSchema,
  PROBLEM_CONTENT_TYPE,
  PROBLEM_TYPE_PREFIX,
  ProblemSchema,
  ResultSchema,
  StartedSchema,
  StatusSchema,
  type Problem,
  type StatusBody,
} from './schemas';

apiSchemaRegistry.add(ApprovalRequestSchema, { id: 'ApprovalRequest' });

export const DEFAULT_WAIT_SECONDS = 30;
export const MAX_WAIT_SECONDS = 60;
/** Far above a valid request (authorization_details are capped at 64 KiB), far below what could hurt. */
export const BODY_LIMIT_BYTES = 256 * 1024;
/** Approvals started through this API: `ciba-approval-api.<key id>.<Idempotency-Key or its digest>`. */
export const API_APPROVAL_ID_PREFIX = `${APPROVAL_ID_PREFIX}api.`;
const SECURITY_SCHEME = 'apiKey';
const REALM = 'ciba-approvals';

export interface ApiOptions {
  approvals: ApprovalClient;
  keys: ApiKeys;
  /** GET /approvals/{id}/result: how long to wait without ?wait= (default 30 s), and at most (default 60 s). */
  defaultWaitSeconds?: number;
  maxWaitSeconds?: number;
  /** Fastify's logger (pino options); off by default. Requests are logged without headers or bodies. */
  logger?: FastifyServerOptions['logger'];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The id of the API key that authenticated this request. */
    apiKeyId: string;
  }
}

/** The approval key (ApprovalClient.start) for a caller's Idempotency-Key: namespaced by the caller's key id. */
export function approvalKeyFor(keyId: string, idempotencyKey: string): string {
  const readable = /^[\w.:@-]{1,128}$/.test(idempotencyKey) && !idempotencyKey.startsWith('sha256:');
  const digest = () => createHash('sha256').update(idempotencyKey, 'utf8').digest('base64url');
  return `api.${keyId}.${readable ? idempotencyKey : `sha256:${digest()}`}`;
}

/** The id of the API key that started an approval, from the approval's id; undefined when no API key did. */
export function approvalOwner(approvalId: string): string | undefined {
  if (!approvalId.startsWith(API_APPROVAL_ID_PREFIX)) return undefined;
  const rest = approvalId.slice(API_APPROVAL_ID_PREFIX.length);
  const dot = rest.indexOf('.');
  return dot > 0 ? rest.slice(0, dot) : undefined;
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

export function problem(status: number, fields: Partial<Problem> & { detail?: string } = {}): Problem {
  return { type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status, ...fields };
}

function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(body);
}

/** RFC 6901 pointer for a path of property names and indexes. */
function jsonPointer(path: readonly PropertyKey[]): string {
  return path.map((part) => `/${String(part).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

const LOCATIONS = { body: 'body', headers: 'header', querystring: 'query', params: 'path' } as const;

/**
 * Fastify's validator compiler for zod schemas (as fastify-type-provider-zod's), keeping each issue's path as a list
 * (its own joins it with "/" without escaping), for the problem's JSON pointers.
 */
const validatorCompiler: FastifySchemaCompiler<z.ZodType> =
  ({ schema }) =>
  (data) => {
    const result = schema.safeParse(data);
    if (result.success) return { value: result.data };
    return {
      error: result.error.issues.map((issue) => ({
        keyword: issue.code,
        instancePath: jsonPointer(issue.path),
        schemaPath: '',
        params: { path: issue.path.map((part) => (typeof part === 'number' ? part : String(part))) },
        message: issue.message,
      })),
    };
  };

/** The problem for a Fastify error: validation, unsupported media type, body too large, bad JSON, or a 500. */
function errorProblem(error: FastifyError, request: FastifyRequest): Problem {
  if (error.validation) {
    const where = LOCATIONS[(error.validationContext ?? 'body') as keyof typeof LOCATIONS] ?? 'body';
    return problem(400, {
      type: `${PROBLEM_TYPE_PREFIX}invalid-request`,
      title: 'The request is not valid',
      detail: error.validation.map((issue) => `${issue.instancePath || '(root)'}: ${issue.message}`).join('; '),
      errors: error.validation.map((issue) => ({
        in: where,
        pointer: issue.instancePath,
        path: ((issue.params as { path?: (string | number)[] }).path ?? []).slice(),
        detail: issue.message ?? 'invalid',
      })),
    });
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) return problem(status, { detail: error.message });
  request.log.error({ err: error }, 'request failed');
  return problem(500, { detail: 'the request failed unexpectedly; see the API log' });
}

/** Problem responses of a route, as the OpenAPI document lists them (content type application/problem+json). */
function problemResponses(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: STATUS_CODES[status] ?? 'Error',
        content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } },
      },
    ]),
  );
}

/** A JSON response as the OpenAPI document describes it. */
function jsonResponse<S extends z.ZodType>(description: string, schema: S) {
  return { description, content: { 'application/json': { schema } } };
}

const toComponents = createJsonSchemaTransformObject({ schemaRegistry: apiSchemaRegistry });

/** The document without the component schemas nothing refers to (each registered schema has an input and an output form). */
function withoutUnusedSchemas(transformed: ReturnType<typeof toComponents>): ReturnType<typeof toComponents> {
  const document = transformed as { components?: { schemas?: Record<string, unknown> } };
  const schemas = document.components?.schemas;
  if (!schemas) return transformed;
  const used = new Set<string>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(visit);
    if (value === null || typeof value !== 'object') return;
    for (const [key, child] of Object.entries(value)) {
      const name =
        key === '$ref' && typeof child === 'string' ? /^#\/components\/schemas\/(.+)$/.exec(child)?.[1] : undefined;
      if (name !== undefined && !used.has(name)) {
        used.add(name);
        visit(schemas[name]);
      }
      visit(child);
    }
  };
  visit({ ...document, components: { ...document.components, schemas: {} } });
  return {
    ...document,
    components: {
      ...document.components,
      schemas: Object.fromEntries(Object.entries(schemas).filter(([name]) => used.has(name))),
    },
  } as ReturnType<typeof toComponents>;
}

/**
 * The document with every regex character class that uses Unicode properties (`[^\p{Cc}\p{Cf}]`) spelled out as
 * ranges of the Basic Multilingual Plane (`[^\u0000-\u001F...]`), computed from this Node's Unicode tables: the same
 * set in the BMP, in a syntax that JSON Schema's ECMA-262 patterns and tools in other languages (Python's `re`, hence
 * schemathesis) both read. Characters beyond the BMP are not described by the spelled-out class.
 */
function withPortablePatterns<T>(document: T): T {
  return JSON.parse(JSON.stringify(document), (key, value: unknown) =>
    key === 'pattern' && typeof value === 'string' && value.includes('\\p{') ? portablePattern(value) : value,
  ) as T;
}

function portablePattern(pattern: string): string {
  return pattern.replace(/\[(\^?)((?:\\.|[^\]\\])*)\]/g, (whole, negated: string, body: string) => {
    if (!body.includes('\\p{')) return whole;
    const member = new RegExp(`^[${body}]$`, 'u');
    const hex = (code: number) => `\\u${code.toString(16).toUpperCase().padStart(4, '0')}`;
    const ranges: string[] = [];
    for (let code = 0; code <= 0xffff; code++) {
      if (code >= 0xd800 && code <= 0xdfff) continue; // surrogates: not characters
      if (!member.test(String.fromCharCode(code))) continue;
      let last = code;
      while (last < 0xffff && !(last + 1 >= 0xd800 && last + 1 <= 0xdfff) && member.test(String.fromCharCode(last + 1)))
        last++;
      ranges.push(last === code ? hex(code) : `${hex(code)}-${hex(last)}`);
      code = last;
    }
    return `[${negated}${ranges.join('')}]`;
  });
}

const ApprovalIdParams = z.object({
  id: z.string().min(1).max(400).describe('The approval id that POST /approvals returned'),
});

export async function buildApi(options: ApiOptions): Promise<FastifyInstance> {
  const { approvals, keys } = options;
  const defaultWait = options.defaultWaitSeconds ?? DEFAULT_WAIT_SECONDS;
  const maxWait = options.maxWaitSeconds ?? MAX_WAIT_SECONDS;

  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: BODY_LIMIT_BYTES,
    // Ids longer than ApprovalIdParams allows reach validation (400) instead of the router's 414.
    routerOptions: { maxParamLength: 4096 },
    // The router's own errors (a malformed URL, ...) as problem details too.
    frameworkErrors: (error, request, reply) => {
      sendProblem(reply, errorProblem(error as FastifyError, request));
    },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // JSON only: a text/plain body is refused 415 rather than parsed as a string.
  app.removeContentTypeParser(['text/plain']);
  app.decorateRequest('apiKeyId', '');

  app.setErrorHandler((error: FastifyError, request, reply) => sendProblem(reply, errorProblem(error, request)));
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, problem(404, { detail: `no route ${request.method} ${request.url.split('?')[0]}` })),
  );

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'CIBA approvals',
        version: '1',
        description:
          'Human approvals for agents (OpenID CIBA with Rich Authorization Requests) run as Temporal workflows. ' +
          'Authenticate with an API key as HTTP Basic credentials (key id as user name, secret as password). ' +
          'Errors are RFC 9457 problem details.',
      },
      components: {
        securitySchemes: {
          [SECURITY_SCHEME]: {
            type: 'http',
            scheme: 'basic',
            description: 'API key: its id as the user name, its secret as the password',
          },
        },
      },
    },
    transform: createJsonSchemaTransform({ schemaRegistry: apiSchemaRegistry }),
    transformObject: (document) => withPortablePatterns(withoutUnusedSchemas(toComponents(document))),
  });

  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());

  await app.register(async (scope) => {
    scope.addHook('onRequest', async (request, reply) => {
      const keyId = keys.authenticate(request.headers.authorization);
      if (keyId === undefined) {
        const invalid = request.headers.authorization !== undefined;
        reply.header('www-authenticate', `Basic realm="${REALM}", charset="UTF-8"`);
        return sendProblem(
          reply,
          problem(401, {
            detail: invalid
              ? 'the API key is not valid'
              : 'an API key is required (HTTP Basic: the key id as user name, its secret as password)',
          }),
        );
      }
      request.apiKeyId = keyId;
    });

    /**
     * 403, decided from the id alone before anything is looked up: approvals started by another key, and approvals
     * not started through this API (by the CLI, an agent workflow), whether they exist or not. Answering 403 rather
     * than 404 tells the caller "not yours" (the status the issue asks to show) and reveals nothing: it is the same
     * answer for ids that exist and ids that do not, so no one learns another key's approvals from it. Tokens,
     * status and cancellation are only ever served to the key that started the approval.
     */
    const ownApproval = (request: FastifyRequest, reply: FastifyReply, id: string): boolean => {
      if (approvalOwner(id) === request.apiKeyId) return true;
      sendProblem(reply, problem(403, { detail: 'this approval was not started with this API key' }));
      return false;
    };

    const api = scope.withTypeProvider<ZodTypeProvider>();
    const security = [{ [SECURITY_SCHEME]: [] }];

    api.post(
      '/approvals',
      {
        schema: {
          operationId: 'startApproval',
          summary: 'Ask a user to approve (idempotent by Idempotency-Key)',
          description:
            'Starts an approval: the user is asked on their device. The same Idempotency-Key with the same body ' +
            'returns the same approval (200); with another body it is refused (422).',
          security,
          headers: z.looseObject({
            'idempotency-key': z
              .string()
              .min(1)
              .max(255)
              .regex(/^[\x20-\x7E]+$/, 'Idempotency-Key must be 1 to 255 printable ASCII characters')
              .describe('Your id of this request: a retry with the same key returns the same approval'),
          }),
          body: ApprovalRequestSchema,
          response: {
            200: jsonResponse('A retry: the approval this Idempotency-Key started', StartedSchema),
            201: jsonResponse('Started: the user is being asked', StartedSchema),
            ...problemResponses(400, 401, 413, 415, 422, 500),
          },
        },
      },
      async (request, reply) => {
        const body = request.body as ApprovalRequest;
        const violations = approvals.providerProfile
          ? profileViolations(PROVIDER_PROFILES[approvals.providerProfile], body, {
              repeatable: body.askAgain.afterLostAnswer,
            })
          : [];
        if (violations.length) {
          return sendProblem(
            reply,
            problem(400, {
              type: `${PROBLEM_TYPE_PREFIX}invalid-request`,
              title: 'The request is not valid',
              detail: violations.map((violation) => violation.message).join('; '),
              errors: violations.map((violation) => ({
                in: 'body' as const,
                pointer: `/${violation.field}`,
                path: [violation.field],
                detail: violation.message,
              })),
            }),
          );
        }
        const key = approvalKeyFor(request.apiKeyId, request.headers['idempotency-key'] as string);
        let started;
        try {
          started = await approvals.start(body, { key });
        } catch (error) {
          if (error instanceof InvalidApprovalRequestError) {
            return sendProblem(
              reply,
              problem(400, {
                type: `${PROBLEM_TYPE_PREFIX}invalid-request`,
                title: 'The request is not valid',
                detail: error.message,
              }),
            );
          }
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
            'Waits up to `wait` seconds for the approval to end. 200: approved, with the tokens. 409: it ended ' +
            'without tokens; the problem type ends with the failure type (ApprovalDenied, ApprovalExpired, ...). ' +
            '202: still pending when the wait ran out (the body is its status): ask again.',
          security,
          params: ApprovalIdParams,
          querystring: z.object({
            wait: z.coerce
              .number()
              .int()
              .min(0)
              .max(maxWait)
              .default(defaultWait)
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
        const outcome = await waitForOutcome(approvals, id, request.query.wait, reply);
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
  });

  return app;
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

/**
 * Whether the approval `workflowId` was started with this same request. The approval's input, as its workflow got it
 * (the first event of its latest run: a run continued as new carries the same request), is read back and decrypted
 * with the payload key this API starts approvals with; nothing else is stored, and no secret in plaintext anywhere.
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
  return parsed.success && canonicalJson(parsed.data) === canonicalJson(ApprovalRequestSchema.parse(body));
}

/**
 * RFC 9457 problem details: every error of the HTTP API, Fastify's own included (validation, media type, body size,
 * bad JSON, prototype poisoning, rate limit, unknown route or method), as `application/problem+json`.
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest, FastifySchemaCompiler } from 'fastify';
import type { z } from 'zod';
import { PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_PREFIX, ProblemSchema, type FieldError, type Problem } from './schemas';

export function problem(status: number, fields: Partial<Problem> & { detail?: string } = {}): Problem {
  return { type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status, ...fields };
}

export function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(body);
}

/** 400 `invalid-request`: what is wrong with the request, naming each offending value. */
export function invalidRequest(detail: string, errors?: FieldError[]): Problem {
  return problem(400, {
    type: `${PROBLEM_TYPE_PREFIX}invalid-request`,
    title: 'The request is not valid',
    detail,
    ...(errors && { errors }),
  });
}

/**
 * An error thrown in a hook or a parser that is to reach the caller as this problem (status, type, title, detail).
 * Fastify hands it to the error handler, which sends it as it is.
 */
export class ProblemError extends Error {
  readonly statusCode: number;
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title);
    this.statusCode = problem.status;
  }
}

/** RFC 6901 pointer for a path of property names and indexes. */
export function jsonPointer(path: readonly PropertyKey[]): string {
  return path.map((part) => `/${String(part).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

const LOCATIONS = { body: 'body', headers: 'header', querystring: 'query', params: 'path' } as const;

/**
 * Fastify's validator compiler for zod schemas (as fastify-type-provider-zod's), keeping each issue's path as a list
 * (its own joins it with "/" without escaping), for the problem's JSON pointers.
 */
export const validatorCompiler: FastifySchemaCompiler<z.ZodType> =
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

/** The problem for an error thrown while serving a request: validation, ours (ProblemError), Fastify's, or a 500. */
export function errorProblem(error: FastifyError | ProblemError, request: FastifyRequest): Problem {
  if (error instanceof ProblemError) return error.problem;
  if (error.validation) {
    const where = LOCATIONS[(error.validationContext ?? 'body') as keyof typeof LOCATIONS] ?? 'body';
    return invalidRequest(
      error.validation.map((issue) => `${issue.instancePath || '(root)'}: ${issue.message}`).join('; '),
      error.validation.map((issue) => ({
        in: where,
        pointer: issue.instancePath,
        path: ((issue.params as { path?: (string | number)[] }).path ?? []).slice(),
        detail: issue.message ?? 'invalid',
      })),
    );
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) return problem(status, { detail: error.message });
  request.log.error({ err: error }, 'request failed');
  return problem(500, { detail: 'the request failed unexpectedly; see the API log' });
}

/** Problem responses of a route, as the OpenAPI document lists them (content type application/problem+json). */
export function problemResponses(...statuses: number[]) {
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
export function jsonResponse<S extends z.ZodType>(description: string, schema: S) {
  return { description, content: { 'application/json': { schema } } };
}

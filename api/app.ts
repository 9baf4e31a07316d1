/**
 * The HTTP API for agent services that are not on Temporal: start an approval, read its status, wait for its result,
 * cancel it — over `ApprovalClient` (client/approvals.ts). Requests and responses are validated by zod schemas
 * (fastify-type-provider-zod); the body is `ApprovalRequestSchema`, the schema the client library and the workflow
 * check. Every error is RFC 9457 `application/problem+json`, Fastify's own included. The OpenAPI 3.1 document is
 * generated from the same schemas (GET /openapi.json; committed as api/openapi.json, `npm run api:openapi`).
 *
 * The parts, by concern:
 * - here: the Fastify instance, authentication, JSON bodies (prototype poisoning refused), 404 and 405;
 * - api/routes.ts: the approval routes (start, status, result, cancel) and the per-key start limit;
 * - api/approval-ids.ts: approval ids, and who owns an approval (a tag over the id only the API can make);
 * - api/problem.ts: problem details; api/openapi-transform.ts: the document as the running API behaves.
 */
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import fastifySwagger from '@fastify/swagger';
import {
  createJsonSchemaTransform,
  createJsonSchemaTransformObject,
  serializerCompiler,
} from 'fastify-type-provider-zod';
import type { ApprovalClient } from '../client/approvals';
import { ApprovalRequestSchema } from '../common/approval';
import { PROVIDER_PROFILES } from '../common/provider-profile';
import { ApprovalIds } from './approval-ids';
import { describeJsonSyntaxProblem, poisonedKey } from './json-text';
import type { ApiKeys } from './keys';
import { describeRunningApi, withoutUnusedSchemas, withPortablePatterns } from './openapi-transform';
import { errorProblem, invalidRequest, problem, ProblemError, sendProblem, validatorCompiler } from './problem';
import { registerApprovalRoutes, SECURITY_SCHEME } from './routes';
import { apiSchemaRegistry, PROBLEM_TYPE_PREFIX } from './schemas';

apiSchemaRegistry.add(ApprovalRequestSchema, { id: 'ApprovalRequest' });

export const DEFAULT_WAIT_SECONDS = 30;
export const MAX_WAIT_SECONDS = 60;
/** Starts per minute per API key, by default. */
export const DEFAULT_STARTS_PER_MINUTE = 60;
/** Far above a valid request (authorization_details are capped at 64 KiB), far below what could hurt. */
export const BODY_LIMIT_BYTES = 256 * 1024;
const REALM = 'ciba-approvals';

export interface ApiOptions {
  approvals: ApprovalClient;
  keys: ApiKeys;
  /**
   * CIBA_API_ID_KEY: the API's own secret (at least 32 bytes) under which approval ids are tagged with their owner
   * (api/approval-ids.ts). Without it, each API key's tags derive from that key's secret digest.
   */
  approvalIdKey?: Buffer;
  /**
   * Approvals each API key may start a minute (default 60; POST /approvals, retries and refused requests included);
   * beyond it 429 with Retry-After. Counted in this process's memory: the limit is per API instance, so N instances
   * behind a load balancer let a key start up to N times as many.
   */
  startsPerMinute?: number;
  /** GET /approvals/{id}/result: how long to wait without ?wait= (default 30 s, at most the longest), and at most (default 60 s). */
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

export async function buildApi(options: ApiOptions): Promise<FastifyInstance> {
  const { approvals, keys } = options;
  const maxWaitSeconds = options.maxWaitSeconds ?? MAX_WAIT_SECONDS;
  const defaultWaitSeconds = Math.min(options.defaultWaitSeconds ?? DEFAULT_WAIT_SECONDS, maxWaitSeconds);
  const startsPerMinute = options.startsPerMinute ?? DEFAULT_STARTS_PER_MINUTE;
  // Without a profile of its own (CIBA_PROVIDER_PROFILE), the API checks the generic one: every worker's is as strict.
  const profile = PROVIDER_PROFILES[approvals.providerProfile ?? 'generic'];

  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: BODY_LIMIT_BYTES,
    // Ids longer than ApprovalIdParams allows reach validation (400) instead of the router's 414.
    routerOptions: { maxParamLength: 4096 },
    // Fastify's own JSON parser would refuse both too; ours (below) replaces it and says why.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // The router's own errors (a malformed URL, ...) as problem details too.
    frameworkErrors: (error, request, reply) => {
      sendProblem(reply, errorProblem(error as FastifyError, request));
    },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // JSON only: a text/plain body is refused 415 rather than parsed as a string.
  app.removeContentTypeParser(['text/plain', 'application/json']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  app.decorateRequest('apiKeyId', '');

  const allowed = new AllowedMethods();
  app.addHook('onRoute', (route) => allowed.add(route.url, route.method));
  /** 405 with Allow when another method takes the path, else 404. */
  const noRoute = (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0]!;
    const methods = allowed.on(path);
    if (methods.length) {
      reply.header('allow', methods.join(', '));
      return sendProblem(
        reply,
        problem(405, { detail: `${request.method} is not a method of ${path}; it takes ${methods.join(', ')}` }),
      );
    }
    return sendProblem(reply, problem(404, { detail: `no route ${request.method} ${path}` }));
  };
  app.setErrorHandler((error: FastifyError, request, reply) =>
    // A request no route takes fails on its body (a QUERY without Content-Type, ...) before the 404 handler runs: it
    // is still answered as a request no route takes.
    request.is404 ? noRoute(request, reply) : sendProblem(reply, errorProblem(error, request)),
  );
  app.setNotFoundHandler(noRoute);

  const toComponents = createJsonSchemaTransformObject({ schemaRegistry: apiSchemaRegistry });
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'CIBA approvals',
        version: '1',
        description:
          'Human approvals for agents (OpenID CIBA with Rich Authorization Requests) run as Temporal workflows. ' +
          'Authenticate with an API key as HTTP Basic credentials (key id as user name, secret as password); an ' +
          'approval is served only to the key that started it. Starting needs an Idempotency-Key header. ' +
          `GET /approvals/{id}/result waits ${defaultWaitSeconds} s for the outcome unless ?wait= says otherwise ` +
          `(at most ${maxWaitSeconds} s). Errors are RFC 9457 problem details; a method a path does not take is ` +
          'answered 405 with Allow.',
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
    transformObject: (document) =>
      withPortablePatterns(
        describeRunningApi(withoutUnusedSchemas(toComponents(document)), {
          profile,
          defaultWaitSeconds,
          maxWaitSeconds,
          startsPerMinute,
        }),
      ) as ReturnType<typeof toComponents>,
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
    await registerApprovalRoutes(scope, {
      approvals,
      ids: new ApprovalIds(keys, options.approvalIdKey),
      profile,
      defaultWaitSeconds,
      maxWaitSeconds,
      startsPerMinute,
    });
  });

  return app;
}

/**
 * A JSON request body, parsed: 400 problems that say where it is not JSON (never quoting it: it may hold a user's
 * identifier) and that name a prototype-poisoning key (`__proto__`, `constructor.prototype`).
 */
function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw new ProblemError(invalidRequest('the body is empty; it must be a JSON object'));
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ProblemError(invalidRequest(`the body is not valid JSON: ${describeJsonSyntaxProblem(text)}`));
  }
  const poisoned = poisonedKey(parsed);
  if (poisoned) {
    throw new ProblemError(
      problem(400, {
        type: `${PROBLEM_TYPE_PREFIX}prototype-poisoning`,
        title: 'The body tries to poison a prototype',
        detail:
          `the body holds a "${poisoned.key}" key (at ${poisoned.pointer}): refused as prototype poisoning; ` +
          'no request needs it',
        errors: [
          {
            in: 'body',
            pointer: poisoned.pointer,
            path: poisoned.pointer.split('/').slice(1),
            detail: 'prototype poisoning',
          },
        ],
      }),
    );
  }
  return parsed;
}

/** The routes' paths and methods, to answer 405 with Allow for a method a known path does not take. */
class AllowedMethods {
  private readonly routes: { pattern: RegExp; methods: Set<string> }[] = [];

  add(url: string, method: string | string[]): void {
    // `/approvals/:id/result` → one path segment per parameter.
    const source = `^${url
      .split('/')
      .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/')}$`;
    let route = this.routes.find((known) => known.pattern.source === source);
    if (!route) this.routes.push((route = { pattern: new RegExp(source), methods: new Set() }));
    for (const name of [method].flat()) route.methods.add(name.toUpperCase());
  }

  /** The methods `path` takes, sorted; none when no route has that path. */
  on(path: string): string[] {
    const methods = new Set<string>();
    for (const route of this.routes) if (route.pattern.test(path)) route.methods.forEach((m) => methods.add(m));
    return [...methods].sort();
  }
}

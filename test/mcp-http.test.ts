/**
 * The MCP server over Streamable HTTP (mcp/http.ts), as a real process against the real stack, with the SDK's own
 * Client: authorization (RFC 9728 metadata, 401 with the challenge, tokens of the local provider for the MCP resource),
 * request_approval as a task backed by the approval workflow (approved, denied, expired, cancelled, a server restart
 * mid-wait), the no-task path (get_approval with wait), ownership by caller, bad arguments, pay_invoice, and the
 * 2026-07-28 tasks extension.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CallToolResultSchema,
  CreateTaskResultSchema,
  ResultSchema,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';
import { paymentAuthorizationDetails } from '../common/payment';
import { REPO_ROOT, startTsProcess, type ManagedProcess } from '../devstack/ts-process';
import { getFreePort } from '../devstack/ports';
import { approvedTokens } from './support/provider-tokens';
import { Device, providerLog, sharedStack, TEST_LOG_DIR, uniqueBindingMessage } from './support/stack';
import { HANG_DETECTOR_MS, waitUntil } from './support/wait';
import { useWorkerFixture } from './support/worker-fixture';

jest.setTimeout(3 * HANG_DETECTOR_MS);

const stack = sharedStack();
const device = new Device(stack.issuer);
const fixture = useWorkerFixture('mcp-http');

let port: number;
let mcpUrl: string;
let server: ManagedProcess | undefined;
let alice: string;
let bob: string;
const clients: Client[] = [];

async function startServer(): Promise<ManagedProcess> {
  return startTsProcess(
    'mcp-http',
    'mcp/http-main.ts',
    { ...fixture.env, CIBA_MCP_PORT: String(port), CIBA_MCP_ISSUER: stack.issuer },
    /ciba mcp: listening on/,
    { logDir: TEST_LOG_DIR, timeoutMs: HANG_DETECTOR_MS },
  );
}

async function accessToken(user: string, audience: string, scope = 'openid mcp'): Promise<string> {
  return (await approvedTokens(stack.issuer, { audience, scope, user })).accessToken;
}

async function connect(token: string): Promise<Client> {
  const client = new Client({ name: 'mcp-http-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(mcpUrl), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  clients.push(client);
  return client;
}

const LONG = { timeout: HANG_DETECTOR_MS };

async function createTask(client: Client, name: string, args: Record<string, unknown>): Promise<string> {
  const created = await client.request(
    { method: 'tools/call', params: { name, arguments: args, task: { ttl: 600_000 } } },
    CreateTaskResultSchema,
  );
  return created.task.taskId;
}

function approvalArgs(bindingMessage: string, extra: Record<string, unknown> = {}) {
  return {
    loginHint: 'alice@example.com',
    bindingMessage,
    authorizationDetails: paymentAuthorizationDetails({ amount: '12.00', currency: 'EUR', creditorName: 'ACME' }),
    ...extra,
  };
}

async function decide(bindingMessage: string, decision: 'approve' | 'deny'): Promise<void> {
  const request = await device.waitFor(bindingMessage);
  await device.decide(request.auth_req_id, decision);
}

function structured(result: CallToolResult): Record<string, any> {
  return result.structuredContent as Record<string, any>;
}

/** No token in anything the model gets. */
function expectNoTokens(result: unknown): void {
  const text = JSON.stringify(result);
  expect(text).not.toMatch(/accessToken|idToken|refreshToken|eyJ[A-Za-z0-9_-]{10,}\./);
}

beforeAll(async () => {
  port = await getFreePort();
  mcpUrl = `http://127.0.0.1:${port}/mcp`;
  server = await startServer();
  [alice, bob] = await Promise.all([accessToken('alice', mcpUrl), accessToken('bob', mcpUrl)]);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await server?.kill();
});

describe('authorization', () => {
  it('answers 401 with a challenge naming the RFC 9728 metadata, which names the local provider', async () => {
    const refused = await fetch(mcpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(refused.status).toBe(401);
    const challenge = refused.headers.get('www-authenticate') ?? '';
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
    expect(metadataUrl).toBe(`http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp`);
    expect(challenge).not.toContain('error=');

    const metadata = (await (await fetch(metadataUrl!)).json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({
      resource: mcpUrl,
      authorization_servers: [stack.issuer],
      scopes_supported: ['mcp'],
    });
    const plain = (await (
      await fetch(`http://127.0.0.1:${port}/.well-known/oauth-protected-resource`)
    ).json()) as object;
    expect(plain).toEqual(metadata);
  });

  it('refuses a token for another API (audience checked) with invalid_token', async () => {
    const paymentsToken = await accessToken('alice', 'https://api.example.com/payments', 'openid payments:read');
    const refused = await fetch(mcpUrl, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${paymentsToken}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(
      /error="invalid_token", error_description="the access token is for another audience"/,
    );
  });

  it("lists request_approval with the contract's JSON Schema (less seal)", async () => {
    const client = await connect(alice);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(
      ['cancel_approval', 'get_approval', 'list_approvals', 'pay_invoice', 'request_approval'].sort(),
    );
    const tool = tools.find((t) => t.name === 'request_approval')!;
    expect(tool.execution?.taskSupport).toBe('optional');
    const contract = JSON.parse(readFileSync(path.join(REPO_ROOT, 'contract/approval-request.schema.json'), 'utf8'));
    const { seal: _seal, ...contractProperties } = contract.properties;
    expect(tool.inputSchema.properties).toEqual(contractProperties);
    expect((tool.inputSchema as Record<string, unknown>).oneOf).toEqual(contract.oneOf);
  });
});

describe('request_approval as a task', () => {
  it('creates a task, tasks/get follows the approval, the device approves, tasks/result gives the outcome', async () => {
    const client = await connect(alice);
    const message = uniqueBindingMessage('MCP task');
    const taskId = await createTask(client, 'request_approval', approvalArgs(message));
    expect(taskId).toMatch(/^ciba-approval-mcp\./);
    const working = await waitUntil(async () => {
      const task = await client.experimental.tasks.getTask(taskId);
      return task.statusMessage?.includes('**pending**') && task;
    }, 'the task is pending');
    expect(working.status).toBe('working');
    expect(working.statusMessage).toMatch(/ask 1 of at most/);

    await decide(message, 'approve');
    const result = await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema, LONG);
    expect(result.isError).toBeFalsy();
    expect(structured(result)).toMatchObject({ approvalId: taskId, status: 'approved', approved: true });
    expect(structured(result).authorizationDetails[0]).toMatchObject({
      type: 'payment_initiation',
      creditorName: 'ACME',
    });
    expectNoTokens(result);
    expect((await client.experimental.tasks.getTask(taskId)).status).toBe('completed');
  });

  it('a denial: the task fails, its result a typed refusal', async () => {
    const client = await connect(alice);
    const message = uniqueBindingMessage('MCP deny');
    const taskId = await createTask(client, 'request_approval', approvalArgs(message));
    await decide(message, 'deny');
    const result = await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema, LONG);
    expect(result.isError).toBe(true);
    expect(structured(result)).toMatchObject({
      approvalId: taskId,
      status: 'denied',
      approved: false,
      outcome: 'denied',
      failureType: 'ApprovalDenied',
    });
    expect((await client.experimental.tasks.getTask(taskId)).status).toBe('failed');
  });

  it('an expiry (requestedExpiry 10 s, asked once): the outcome is expired', async () => {
    const client = await connect(alice);
    const message = uniqueBindingMessage('MCP expire');
    const taskId = await createTask(
      client,
      'request_approval',
      approvalArgs(message, { requestedExpiry: 10, askAgain: { maxAsks: 1 } }),
    );
    const result = await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema, LONG);
    expect(structured(result)).toMatchObject({ outcome: 'expired', failureType: 'ApprovalExpired', status: 'expired' });
  });

  it('tasks/cancel cancels the approval workflow', async () => {
    const client = await connect(alice);
    const message = uniqueBindingMessage('MCP cancel');
    const taskId = await createTask(client, 'request_approval', approvalArgs(message));
    await device.waitFor(message);
    const cancelled = await client.experimental.tasks.cancelTask(taskId);
    expect(cancelled.status).toBe('cancelled');
    const description = await fixture.temporal.workflow.getHandle(taskId).describe();
    expect(description.status.name).toBe('CANCELLED');
    const result = await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema, LONG);
    expect(structured(result)).toMatchObject({ outcome: 'cancelled', failureType: 'ApprovalCancelled' });
  });

  it('survives a server restart mid-wait: the task completes on the new server', async () => {
    let client = await connect(alice);
    const message = uniqueBindingMessage('MCP restart');
    const taskId = await createTask(client, 'request_approval', approvalArgs(message));
    // A tasks/result waiting when the server dies.
    const waiting = client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema, LONG).then(
      () => 'answered',
      () => 'failed',
    );
    await device.waitFor(message);
    await server!.kill('SIGKILL');
    expect(await waiting).toBe('failed');
    server = await startServer();

    await decide(message, 'approve');
    client = await connect(alice);
    const result = await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema, LONG);
    expect(structured(result)).toMatchObject({ approvalId: taskId, status: 'approved', approved: true });
  });
});

describe('without tasks', () => {
  it('request_approval answers at once with the id and pending; get_approval with wait gives the outcome', async () => {
    const client = await connect(alice);
    const message = uniqueBindingMessage('MCP notask');
    const started = (await client.callTool({
      name: 'request_approval',
      arguments: approvalArgs(message),
    })) as CallToolResult;
    expect(started.isError).toBeFalsy();
    const { approvalId, status } = structured(started);
    expect(['initiating', 'pending']).toContain(status);

    const waitedOut = (await client.callTool({
      name: 'get_approval',
      arguments: { approvalId, wait: 1 },
    })) as CallToolResult;
    expect(['initiating', 'pending']).toContain(structured(waitedOut).status);

    await decide(message, 'approve');
    const outcome = await waitUntil(async () => {
      const answer = (await client.callTool(
        { name: 'get_approval', arguments: { approvalId, wait: 50 } },
        undefined,
        LONG,
      )) as CallToolResult;
      return structured(answer).status === 'approved' && answer;
    }, 'get_approval says approved');
    expect(structured(outcome)).toMatchObject({ approvalId, approved: true });
    expectNoTokens(outcome);
  });

  it('bad arguments: a tool error naming the field, and nothing started', async () => {
    const client = await connect(alice);
    const count = async () =>
      (await fixture.temporal.workflow.count(`TaskQueue = "${fixture.env.CIBA_TASK_QUEUE}"`)).count;
    const before = await count();
    const bad = (await client.callTool({
      name: 'request_approval',
      arguments: approvalArgs(uniqueBindingMessage('MCP bad'), { requestedExpiry: 5 }),
    })) as CallToolResult;
    expect(bad.isError).toBe(true);
    expect(JSON.stringify(bad.content)).toContain('requestedExpiry');
    const noHint = (await client.callTool({
      name: 'request_approval',
      arguments: { bindingMessage: 'Pay 1.00 EUR to ACME' },
    })) as CallToolResult;
    expect(noHint.isError).toBe(true);
    expect(JSON.stringify(noHint.content)).toContain('loginHint');
    // As a task: a JSON-RPC error with the same words, and no task.
    await expect(
      createTask(client, 'request_approval', approvalArgs(uniqueBindingMessage('MCP bad'), { requestedExpiry: 5 })),
    ).rejects.toThrow(/requestedExpiry/);

    // One good start afterwards: once visibility lists it, the count is one more than before, not three or four.
    const message = uniqueBindingMessage('MCP good');
    await client.callTool({ name: 'request_approval', arguments: approvalArgs(message) });
    await waitUntil(async () => (await count()) > before, 'the good approval is listed');
    expect(await count()).toBe(before + 1);
    await decide(message, 'deny');
  });
});

describe('ownership', () => {
  it("another caller can neither see nor cancel a caller's approval", async () => {
    const aliceClient = await connect(alice);
    const bobClient = await connect(bob);
    const message = uniqueBindingMessage('MCP owner');
    const taskId = await createTask(aliceClient, 'request_approval', approvalArgs(message));

    await expect(bobClient.experimental.tasks.getTask(taskId)).rejects.toThrow(/not found/i);
    await expect(bobClient.experimental.tasks.cancelTask(taskId)).rejects.toThrow(/not found/i);
    const peek = (await bobClient.callTool({
      name: 'get_approval',
      arguments: { approvalId: taskId },
    })) as CallToolResult;
    expect(peek.isError).toBe(true);
    const cancel = (await bobClient.callTool({
      name: 'cancel_approval',
      arguments: { approvalId: taskId },
    })) as CallToolResult;
    expect(cancel.isError).toBe(true);
    expect((await fixture.temporal.workflow.getHandle(taskId).describe()).status.name).toBe('RUNNING');

    await waitUntil(async () => {
      const listed = (await aliceClient.callTool({ name: 'list_approvals', arguments: {} })) as CallToolResult;
      return structured(listed).approvals.some((a: { approvalId: string }) => a.approvalId === taskId);
    }, "alice's list has her approval");
    const bobs = (await bobClient.callTool({ name: 'list_approvals', arguments: {} })) as CallToolResult;
    expect(structured(bobs).approvals.map((a: { approvalId: string }) => a.approvalId)).not.toContain(taskId);
    const bobTasks = await bobClient.experimental.tasks.listTasks();
    expect(bobTasks.tasks.map((t) => t.taskId)).not.toContain(taskId);

    await decide(message, 'deny');
  });
});

describe('pay_invoice', () => {
  it('pays only once approved, with the approval request id as Idempotency-Key, and the receipt is stable', async () => {
    const client = await connect(alice);
    const invoice = {
      invoiceNumber: `INV-${Date.now() % 100000}`,
      amount: '7.50',
      currency: 'EUR',
      creditorName: 'ACME',
    };
    const taskId = await createTask(client, 'pay_invoice', { ...invoice, loginHint: 'alice@example.com' });
    const message = `Pay ${invoice.invoiceNumber} 7.50 EUR to ACME`;
    await decide(message, 'approve');
    const paid = await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema, LONG);
    expect(paid.isError).toBeFalsy();
    expect(structured(paid)).toMatchObject({ paid: true, status: 'executed', amount: '7.50', creditorName: 'ACME' });
    expectNoTokens(paid);
    // Asked again: the same payment (the payments API answers its Idempotency-Key's payment again).
    const again = await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema, LONG);
    expect(structured(again).paymentId).toBe(structured(paid).paymentId);
    expect((await providerLog(stack.issuer, { bindingMessage: message })).length).toBeGreaterThan(0);
  });
});

describe('2026-07-28 tasks extension', () => {
  it('tools/call answers resultType task; tasks/get inlines the result once ended; tasks/update is refused', async () => {
    const client = await connect(alice);
    const meta = {
      'io.modelcontextprotocol/clientCapabilities': { extensions: { 'io.modelcontextprotocol/tasks': {} } },
    };
    const message = uniqueBindingMessage('MCP ext');
    const created = (await client.request(
      { method: 'tools/call', params: { name: 'request_approval', arguments: approvalArgs(message), _meta: meta } },
      ResultSchema.passthrough(),
    )) as Record<string, any>;
    expect(created.resultType).toBe('task');
    expect(created).toMatchObject({ status: 'working', ttlMs: null, pollIntervalMs: expect.any(Number) });
    const taskId = String(created.taskId);

    const get = async () =>
      (await client.request(
        { method: 'tasks/get', params: { taskId, _meta: meta } } as never,
        ResultSchema.passthrough(),
      )) as Record<string, any>;
    await expect(
      client.request({ method: 'tasks/update', params: { taskId, _meta: meta } } as never, ResultSchema),
    ).rejects.toThrow(/not waiting for input/);

    await decide(message, 'approve');
    const ended = await waitUntil(async () => {
      const task = await get();
      return task.status !== 'working' && task;
    }, 'the task ended');
    expect(ended.status).toBe('completed');
    expect(ended.result.structuredContent).toMatchObject({ approvalId: taskId, approved: true });
    expectNoTokens(ended);
  });
});

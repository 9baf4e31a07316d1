/**
 * The MCP server on stdio (mcp/stdio-main.ts, as `npm run mcp` runs it) with the SDK's own Client and its stdio
 * transport: a task approved on the device, the no-task path, and a server process killed mid-wait and started again
 * (a new stdio session, the same local user), after which the task completes.
 */
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CallToolResultSchema, CreateTaskResultSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { REPO_ROOT } from '../devstack/ts-process';
import { Device, sharedStack, uniqueBindingMessage } from './support/stack';
import { HANG_DETECTOR_MS, waitUntil } from './support/wait';
import { useWorkerFixture } from './support/worker-fixture';

jest.setTimeout(3 * HANG_DETECTOR_MS);

const stack = sharedStack();
const device = new Device(stack.issuer);
const fixture = useWorkerFixture('mcp-stdio');
const LONG = { timeout: HANG_DETECTOR_MS };
const open: Client[] = [];

async function connect(): Promise<{ client: Client; transport: StdioClientTransport }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['--import', 'tsx', path.join(REPO_ROOT, 'mcp/stdio-main.ts')],
    cwd: REPO_ROOT,
    env: { ...(process.env as Record<string, string>), ...fixture.env },
    stderr: 'ignore',
  });
  const client = new Client({ name: 'mcp-stdio-test', version: '1.0.0' });
  await client.connect(transport);
  open.push(client);
  return { client, transport };
}

afterAll(async () => {
  await Promise.all(open.map((c) => c.close().catch(() => undefined)));
});

function args(bindingMessage: string) {
  return { loginHint: 'alice@example.com', bindingMessage };
}

it('a task: created, pending, approved on the device, its result the outcome', async () => {
  const { client } = await connect();
  const message = uniqueBindingMessage('MCP stdio');
  const created = await client.request(
    { method: 'tools/call', params: { name: 'request_approval', arguments: args(message), task: { ttl: 60_000 } } },
    CreateTaskResultSchema,
  );
  const taskId = created.task.taskId;
  await waitUntil(
    async () => (await client.experimental.tasks.getTask(taskId)).statusMessage?.includes('**pending**'),
    'the task is pending',
  );
  const request = await device.waitFor(message);
  await device.decide(request.auth_req_id, 'approve');
  const result = await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema, LONG);
  expect(result.structuredContent).toMatchObject({ approvalId: taskId, status: 'approved', approved: true });
});

it('a server killed mid-wait and started again: the task completes', async () => {
  const first = await connect();
  const message = uniqueBindingMessage('MCP stdio restart');
  const started = (await first.client.callTool({
    name: 'request_approval',
    arguments: args(message),
  })) as CallToolResult;
  const approvalId = (started.structuredContent as { approvalId: string }).approvalId;
  const request = await device.waitFor(message);
  const pid = first.transport.pid!;
  process.kill(pid, 'SIGKILL');
  await waitUntil(() => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  }, 'the stdio server is gone');

  await device.decide(request.auth_req_id, 'approve');
  const second = await connect();
  const outcome = await waitUntil(async () => {
    const answer = (await second.client.callTool(
      { name: 'get_approval', arguments: { approvalId, wait: 50 } },
      undefined,
      LONG,
    )) as CallToolResult;
    return (answer.structuredContent as { status?: string }).status === 'approved' && answer;
  }, 'get_approval says approved');
  expect(outcome.structuredContent).toMatchObject({ approvalId, approved: true });
  // The same caller (the local user) sees it as a task too.
  expect((await second.client.experimental.tasks.getTask(approvalId)).status).toBe('completed');
});

/**
 * An AI SDK agent over MCP (agents/mcp-pay-invoice/agent.ts): `generateText` with the tools `@ai-sdk/mcp`'s client
 * lists from the MCP server (mcp/http-main.ts, a real process against the real stack) over Streamable HTTP, the
 * bearer token one of the local provider's for the MCP resource. A scripted model (MockLanguageModelV4) calls
 * pay_invoice; the AI SDK's client uses no MCP tasks, so pay_invoice answers at once with the approval's id and
 * status pending, and the model calls get_approval with wait until the status is no longer pending (docs/mcp.md,
 * the server's instructions). The user decides on the provider's device API; the demo payments API's ledger
 * (GET <issuer>/dev/payments) shows the payment made exactly once, and only after the approval.
 */
import { experimental_createMCPClient } from '@ai-sdk/mcp';
import type {
  LanguageModelV4CallOptions,
  LanguageModelV4GenerateResult,
  LanguageModelV4ToolResultOutput,
} from '@ai-sdk/provider';
import { MockLanguageModelV4 } from 'ai/test';
import { randomUUID } from 'node:crypto';
import { runMcpAgent } from '../agents/mcp-pay-invoice/agent';
import { invoiceBindingMessage, type Invoice } from '../agents/pay-invoice/invoice';
import { startTsProcess, type ManagedProcess } from '../devstack/ts-process';
import { getFreePort } from '../devstack/ports';
import { approvedTokens } from './support/provider-tokens';
import { Device, sharedStack, TEST_LOG_DIR } from './support/stack';
import { HANG_DETECTOR_MS } from './support/wait';
import { useWorkerFixture } from './support/worker-fixture';

jest.setTimeout(3 * HANG_DETECTOR_MS);

const stack = sharedStack();
const device = new Device(stack.issuer);
const fixture = useWorkerFixture('mcp-agent');

let mcpUrl: string;
let server: ManagedProcess | undefined;
let alice: string;

/** An access token of the local provider for the MCP server, approved by `user` on the device API. */
async function accessToken(user: string): Promise<string> {
  return (await approvedTokens(stack.issuer, { audience: mcpUrl, scope: 'openid mcp', user })).accessToken;
}

beforeAll(async () => {
  const port = await getFreePort();
  mcpUrl = `http://127.0.0.1:${port}/mcp`;
  server = await startTsProcess(
    'mcp-agent-http',
    'mcp/http-main.ts',
    { ...fixture.env, CIBA_MCP_PORT: String(port), CIBA_MCP_ISSUER: stack.issuer },
    /ciba mcp: listening on/,
    { logDir: TEST_LOG_DIR, timeoutMs: HANG_DETECTOR_MS },
  );
  alice = await accessToken('alice');
});

afterAll(async () => {
  await server?.kill();
});

const USAGE = {
  inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 1, text: 1, reasoning: 0 },
};

/** The JSON a tool result carries (the MCP client gives the model the result's text content). */
function toolOutputJson(output: LanguageModelV4ToolResultOutput): Record<string, any> {
  if (output.type === 'content') {
    return JSON.parse(output.value.map((part) => (part.type === 'text' ? part.text : '')).join(''));
  }
  if (output.type === 'json' || output.type === 'error-json') return output.value as Record<string, any>;
  if (output.type === 'text' || output.type === 'error-text') return JSON.parse(output.value);
  throw new Error(`unexpected tool output ${output.type}`);
}

/**
 * The scripted model: asked "Pay this invoice for <payer>: {json}", it calls pay_invoice with that invoice; while the
 * last tool result is where the approval stands (pay_invoice's immediate answer, or a get_approval whose wait ran
 * out), it calls get_approval with wait (50 s, the longest); once it is an outcome (the receipt, or a refusal), it
 * answers "Final: <that result's JSON>".
 */
function scriptedModel(): MockLanguageModelV4 {
  let calls = 0;
  const toolCall = (toolName: string, input: object): LanguageModelV4GenerateResult => ({
    content: [{ type: 'tool-call', toolCallId: `call-${++calls}`, toolName, input: JSON.stringify(input) }],
    finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
    usage: USAGE,
    warnings: [],
  });
  return new MockLanguageModelV4({
    async doGenerate(options: LanguageModelV4CallOptions): Promise<LanguageModelV4GenerateResult> {
      const last = options.prompt[options.prompt.length - 1]!;
      if (last.role === 'user') {
        const text = last.content.map((p) => (p.type === 'text' ? p.text : '')).join('');
        const loginHint = /for (\S+):/.exec(text)![1]!;
        return toolCall('pay_invoice', { ...JSON.parse(text.slice(text.indexOf('{'))), loginHint });
      }
      if (last.role !== 'tool') throw new Error(`unexpected prompt ending with ${last.role}`);
      const result = last.content.find((part) => part.type === 'tool-result');
      if (!result || result.type !== 'tool-result') throw new Error('no tool result');
      const outcome = toolOutputJson(result.output);
      // Not yet an outcome (neither a receipt nor approved/refused): where the approval stands, so wait for it.
      if (!('paid' in outcome) && !('approved' in outcome)) {
        return toolCall('get_approval', { approvalId: outcome.approvalId, wait: 50 });
      }
      return {
        content: [{ type: 'text', text: `Final: ${JSON.stringify(outcome)}` }],
        finishReason: { unified: 'stop', raw: 'stop' },
        usage: USAGE,
        warnings: [],
      };
    },
  });
}

function newInvoice(): Invoice {
  const tag = randomUUID().slice(0, 8);
  return { invoiceNumber: `INV-${tag}`, amount: '42.00', currency: 'EUR', creditorName: `McpAgentCo-${tag}` };
}

/** The payments the demo payments API executed for `creditorName` (unique per test). */
async function payments(creditorName: string): Promise<Array<{ paymentId: string; amount: string }>> {
  const all = (await (await fetch(`${stack.issuer}/dev/payments`)).json()) as Array<{
    paymentId: string;
    amount: string;
    creditorName: string;
  }>;
  return all.filter((payment) => payment.creditorName === creditorName);
}

const TOKEN_LIKE = /accessToken|idToken|refreshToken|access_token|eyJ[A-Za-z0-9_-]{10,}\./;

function startAgent(model: MockLanguageModelV4, invoice: Invoice) {
  return runMcpAgent({
    mcpUrl,
    accessToken: alice,
    model,
    prompt: `Pay this invoice for alice@example.com: ${JSON.stringify(invoice)}`,
  });
}

describe('an AI SDK agent with the MCP server’s tools', () => {
  it('pays exactly once, after the user approves: pay_invoice, then get_approval with wait until done', async () => {
    const model = scriptedModel();
    const invoice = newInvoice();
    const running = startAgent(model, invoice);
    running.catch(() => undefined); // awaited below; a failure before then must not be unhandled

    const request = await device.waitFor(invoiceBindingMessage(invoice));
    expect(request.authorization_details).toEqual([
      expect.objectContaining({ type: 'payment_initiation', creditorName: invoice.creditorName }),
    ]);
    expect(await payments(invoice.creditorName)).toEqual([]); // nothing paid while the user has not decided
    await device.decide(request.auth_req_id, 'approve');

    const result = await running;
    const calls = result.steps.flatMap((step) => step.toolCalls.map((call) => call.toolName));
    expect(calls[0]).toBe('pay_invoice');
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls.slice(1).every((name) => name === 'get_approval')).toBe(true);

    // The last tool result is the payment receipt: what was approved, paid once.
    const lastStep = result.steps[result.steps.length - 2]!;
    const receipt = lastStep.toolResults[0]!.output as { structuredContent: Record<string, unknown> };
    expect(receipt.structuredContent).toMatchObject({
      paid: true,
      status: 'executed',
      amount: invoice.amount,
      currency: invoice.currency,
      creditorName: invoice.creditorName,
      approvalId: expect.stringMatching(/^ciba-approval-mcp\..*\.pay_invoice\./),
    });
    expect(result.text).toBe(`Final: ${JSON.stringify(receipt.structuredContent)}`);

    const paid = await payments(invoice.creditorName);
    expect(paid).toEqual([expect.objectContaining({ paymentId: receipt.structuredContent.paymentId })]);

    // Asked again (a client retrying get_approval): the same receipt, still one payment.
    const client = await experimental_createMCPClient({
      transport: { type: 'http', url: mcpUrl, headers: { authorization: `Bearer ${alice}` } },
      protocolVersionDiscovery: false,
    });
    try {
      const again = await client.callTool({
        name: 'get_approval',
        arguments: { approvalId: receipt.structuredContent.approvalId as string },
      });
      expect(again.structuredContent).toMatchObject({ paymentId: receipt.structuredContent.paymentId });
    } finally {
      await client.close();
    }
    expect(await payments(invoice.creditorName)).toHaveLength(1);

    // No token reached the model: not in any tool result, not in any prompt.
    expect(JSON.stringify(result.steps.map((step) => step.toolResults))).not.toMatch(TOKEN_LIKE);
    expect(JSON.stringify(model.doGenerateCalls.map((call) => call.prompt))).not.toMatch(TOKEN_LIKE);
  });

  it('pays nothing when the user denies: the model gets the refusal', async () => {
    const model = scriptedModel();
    const invoice = newInvoice();
    const running = startAgent(model, invoice);
    running.catch(() => undefined);

    const request = await device.waitFor(invoiceBindingMessage(invoice));
    await device.decide(request.auth_req_id, 'deny');

    const result = await running;
    const lastStep = result.steps[result.steps.length - 2]!;
    expect(lastStep.toolCalls[0]!.toolName).toBe('get_approval');
    const refusal = lastStep.toolResults[0]!.output as {
      isError?: boolean;
      structuredContent: Record<string, unknown>;
    };
    expect(refusal.isError).toBe(true);
    expect(refusal.structuredContent).toMatchObject({
      approved: false,
      outcome: 'denied',
      failureType: 'ApprovalDenied',
    });
    expect(result.text).toBe(`Final: ${JSON.stringify(refusal.structuredContent)}`);
    expect(await payments(invoice.creditorName)).toEqual([]);
    expect(JSON.stringify(model.doGenerateCalls.map((call) => call.prompt))).not.toMatch(TOKEN_LIKE);
  });
});

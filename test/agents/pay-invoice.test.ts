/**
 * The pay-invoice agent end to end on the real stack (Node >= 22.12 only: `npm run test:node24`; jest.config.js skips
 * this folder on older Node). The agent worker runs in this process with the AI SDK's MockLanguageModelV4, scripted
 * to call payInvoice with the invoice given in the prompt and then to answer with what the tool returned; the
 * approval worker is a process of its own, and the user decides through the local provider's device API.
 */
import type { LanguageModelV4CallOptions, LanguageModelV4GenerateResult } from '@ai-sdk/provider';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { MockLanguageModelV4, MockProviderV4 } from 'ai/test';
import { randomUUID } from 'node:crypto';
import { newStartSeal } from '../../client/approvals';
import { temporalSettings } from '../../common/config';
import { invoiceAuthorizationDetails, invoiceBindingMessage, type Invoice } from '../../agents/pay-invoice/invoice';
import { createPayInvoiceWorker } from '../../agents/pay-invoice/worker';
import {
  PAY_INVOICE_MODEL_ID,
  payInvoiceAgent,
  type PayInvoiceAgentInput,
  type PayInvoiceAgentResult,
} from '../../agents/pay-invoice/workflows';
import { Device, sharedStack, uniqueTaskQueue } from '../support/stack';
import { HANG_DETECTOR_MS, waitUntil } from '../support/wait';
import { useWorkerFixture } from '../support/worker-fixture';

jest.setTimeout(3 * HANG_DETECTOR_MS);

const device = new Device(sharedStack().issuer);
/** The approval worker (a process), on its own task queue, and the clients. */
const approvals = useWorkerFixture('agents');
const agentTaskQueue = uniqueTaskQueue('agent');

const NO_USAGE = {
  inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 1, text: 1, reasoning: 0 },
};

/**
 * The scripted model: asked with "Pay this invoice: {json}", it calls payInvoice with that JSON; once the tool has
 * answered, it says "Final: <the tool's output as JSON>".
 */
const model = new MockLanguageModelV4({
  async doGenerate(options: LanguageModelV4CallOptions): Promise<LanguageModelV4GenerateResult> {
    const last = options.prompt[options.prompt.length - 1]!;
    if (last.role === 'tool') {
      const outputs = last.content.flatMap((part) => (part.type === 'tool-result' ? [part.output] : []));
      const text = `Final: ${JSON.stringify(outputs.map((o) => ('value' in o ? o.value : o)))}`;
      return {
        content: [{ type: 'text', text }],
        finishReason: { unified: 'stop', raw: 'stop' },
        usage: NO_USAGE,
        warnings: [],
      };
    }
    const userText = last.role === 'user' ? last.content.map((p) => (p.type === 'text' ? p.text : '')).join('') : '';
    const invoiceJson = userText.slice(userText.indexOf('{'));
    return {
      content: [{ type: 'tool-call', toolCallId: 'call-1', toolName: 'payInvoice', input: invoiceJson }],
      finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
      usage: NO_USAGE,
      warnings: [],
    };
  },
});

let connection: NativeConnection;
let agentWorker: Worker;
let agentWorkerRun: Promise<void>;

beforeAll(async () => {
  const settings = temporalSettings(approvals.env);
  connection = await NativeConnection.connect(settings.connection);
  agentWorker = await createPayInvoiceWorker({
    connection,
    settings,
    taskQueue: agentTaskQueue,
    modelProvider: new MockProviderV4({ languageModels: { [PAY_INVOICE_MODEL_ID]: model } }),
  });
  agentWorkerRun = agentWorker.run();
});

afterAll(async () => {
  if (agentWorker) {
    agentWorker.shutdown();
    await agentWorkerRun;
  }
  await connection?.close();
});

function newInvoice(overrides: Partial<Invoice> = {}): Invoice {
  return {
    invoiceNumber: `INV-${randomUUID().slice(0, 8)}`,
    amount: '50.00',
    currency: 'USD',
    creditorName: 'ExampleCorp',
    ...overrides,
  };
}

async function startAgent(name: string, invoice: Invoice, extra: Partial<PayInvoiceAgentInput> = {}) {
  const workflowId = `pay-invoice-${name}-${randomUUID()}`;
  return approvals.temporal.workflow.start(payInvoiceAgent, {
    workflowId,
    taskQueue: agentTaskQueue,
    args: [
      {
        prompt: `Pay this invoice: ${JSON.stringify(invoice)}`,
        loginHint: 'alice@example.com',
        seal: newStartSeal(workflowId),
        approvalTaskQueue: approvals.env.CIBA_TASK_QUEUE!,
        providerProfile: 'auth0',
        ...extra,
      },
    ],
  });
}

/** The model's final text must be about exactly the tool's result. */
function expectFinalTextFollows(result: PayInvoiceAgentResult): void {
  expect(result.toolResults).toHaveLength(1);
  expect(result.text).toBe(`Final: ${JSON.stringify([result.toolResults[0]!.output])}`);
  expect(result.steps).toBe(2);
}

describe('the pay-invoice agent (withApproval)', () => {
  it('pays once the user approves: the tool runs with the approved tokens, and the model answers with its result', async () => {
    const invoice = newInvoice();
    const handle = await startAgent('approve', invoice);
    const request = await device.waitFor(invoiceBindingMessage(invoice, 'auth0'));
    expect(request.authorization_details).toEqual(invoiceAuthorizationDetails(invoice));
    await device.decide(request.auth_req_id, 'approve');

    const result = await handle.result();
    // The payments API executed it: it accepted the access token the tool got, which carries exactly this payment.
    expect(result.toolResults[0]).toMatchObject({
      toolName: 'payInvoice',
      input: invoice,
      output: {
        paid: true,
        invoiceNumber: invoice.invoiceNumber,
        status: 'executed',
        paymentId: expect.any(String),
        approvedAt: expect.any(String),
      },
    });
    expectFinalTextFollows(result);
    // The tokens reached the tool only: neither the model nor the result saw them.
    expect(JSON.stringify(result)).not.toContain('eyJ');
    expect(JSON.stringify(model.doGenerateCalls.map((call) => call.prompt))).not.toContain('eyJ');
  });

  it('gives the model a structured refusal when the user denies, and the workflow completes', async () => {
    const invoice = newInvoice({ amount: '75.10' });
    const handle = await startAgent('deny', invoice);
    const request = await device.waitFor(invoiceBindingMessage(invoice, 'auth0'));
    await device.decide(request.auth_req_id, 'deny');

    const result = await handle.result();
    expect(result.toolResults[0]!.output).toEqual({
      approved: false,
      outcome: 'denied',
      failureType: 'ApprovalDenied',
      reason: expect.stringContaining('denied'),
      approvalWorkflowId: expect.stringMatching(new RegExp(`^${handle.workflowId}/approval/payInvoice-`)),
    });
    expectFinalTextFollows(result);
    expect((await handle.describe()).status.name).toBe('COMPLETED');
  });

  it('gives the model a refusal that says expired when nobody decides in time', async () => {
    const invoice = newInvoice({ amount: '12.34' });
    const handle = await startAgent('expire', invoice, { approval: { requestedExpiry: 10, askAgain: { maxAsks: 1 } } });

    const result = await handle.result();
    expect(result.toolResults[0]!.output).toMatchObject({
      approved: false,
      outcome: 'expired',
      failureType: 'ApprovalExpired',
      reason: expect.stringContaining('expired'),
    });
    expectFinalTextFollows(result);
  });

  it('gives the model a refusal that says cancelled when an operator cancels the approval, and the workflow completes', async () => {
    const invoice = newInvoice({ amount: '3.50' });
    const handle = await startAgent('cancel', invoice);
    await device.waitFor(invoiceBindingMessage(invoice, 'auth0'));
    const approvalId = await waitUntil(async () => {
      const history = await handle.fetchHistory();
      return history.events?.find((e) => e.childWorkflowExecutionStartedEventAttributes)
        ?.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.workflowId;
    }, 'the agent started its approval');
    await approvals.temporal.workflow.getHandle(approvalId!).cancel();

    const result = await handle.result();
    expect(result.toolResults[0]!.output).toMatchObject({
      approved: false,
      outcome: 'cancelled',
      failureType: 'ApprovalCancelled',
      approvalWorkflowId: approvalId,
    });
    expectFinalTextFollows(result);
    expect((await handle.describe()).status.name).toBe('COMPLETED');
  });

  it('refuses a request the provider would reject before anything starts, and the model is told why', async () => {
    // A slash is not allowed in Auth0's binding message.
    const invoice = newInvoice({ creditorName: 'Example/Corp' });
    const handle = await startAgent('invalid', invoice);

    const result = await handle.result();
    const refusal = result.toolResults[0]!.output;
    expect(refusal).toMatchObject({
      approved: false,
      outcome: 'invalid_request',
      failureType: 'InvalidApprovalRequest',
      reason: expect.stringContaining('bindingMessage'),
    });
    expect(refusal).not.toHaveProperty('approvalWorkflowId');
    expectFinalTextFollows(result);
    // No approval was started.
    const history = await handle.fetchHistory();
    expect(history.events?.some((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)).toBe(false);
  });
});

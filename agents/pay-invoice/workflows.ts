/**
 * The pay-invoice agent: a model (through @temporalio/ai-sdk, so each model call is an activity) with one tool,
 * `payInvoice`, wrapped by `withApproval`: the user approves each payment on their device (CIBA with the payment as
 * RFC 9396 authorization_details) before the tool pays it with the approved access token. A denial, expiry or
 * cancellation reaches the model as a structured refusal; the workflow completes either way.
 *
 * The workflow bundle is built with AiSdkPlugin (agents/pay-invoice/worker.ts), which installs the Web API polyfills
 * `ai` needs in the sandbox. Import workflow-safe parts only: '@temporalio/ai-sdk/workflow', not the package root.
 */
import { temporalProvider } from '@temporalio/ai-sdk/workflow';
import { patched, proxyActivities } from '@temporalio/workflow';
import { generateText, stepCountIs, tool } from 'ai';
import type { PaymentActivities } from '../../activities/payments';
import type { ApprovalRequestInput } from '../../common/approval';
import type { ProviderProfileName } from '../../common/provider-profile';
import type { StartSeal } from '../../common/start-seal';
import { checkStartSeal } from '../../workflows/sealed-start';
import { approvalOf, withApproval } from '../with-approval';
import { InvoiceSchema, invoiceAuthorizationDetails, invoiceBindingMessage, invoicePayment } from './invoice';

/** The model the workflow asks for; the worker's model provider decides what it is (agents/pay-invoice/model.ts). */
export const PAY_INVOICE_MODEL_ID = 'pay-invoice-agent';

export const PAY_INVOICE_SYSTEM_PROMPT =
  'You pay invoices for the user with the payInvoice tool. Each payment needs the user to approve it on their ' +
  'device; the tool asks them. If the tool answers approved: false, do not retry: tell the user the invoice was not ' +
  'paid, and why (the outcome and reason). Answer briefly.';

export interface PayInvoiceAgentInput {
  /** Binds this input to its workflow ID, once (client: `newStartSeal(workflowId)`); refused without it. */
  seal?: StartSeal;
  /** What the user asks, e.g. "Pay invoice INV-1001: 50.00 USD to ExampleCorp". */
  prompt: string;
  /** Who approves payments (a login_hint the provider understands). */
  loginHint: string;
  /** The approval worker's task queue (CIBA_TASK_QUEUE); it also executes the payment (its payments activity). */
  approvalTaskQueue: string;
  /** The provider's rules for binding messages (default generic). */
  providerProfile?: ProviderProfileName;
  /** How long the user has, and how often to ask (defaults: the provider's expiry, 24 h, up to 3 asks). */
  approval?: Pick<ApprovalRequestInput, 'requestedExpiry' | 'approvalTimeout' | 'askAgain'>;
  /** Model steps at most (default 5). */
  maxSteps?: number;
}

export interface PayInvoiceAgentResult {
  /** The model's final answer. */
  text: string;
  /** Every tool call's result, in order: a payment receipt, or an ApprovalRefusal. */
  toolResults: Array<{ toolName: string; input: unknown; output: unknown }>;
  steps: number;
}

export async function payInvoiceAgent(input: PayInvoiceAgentInput): Promise<PayInvoiceAgentResult> {
  if (patched('sealed-start')) checkStartSeal(input.seal); // a copy of this input, started again, does nothing
  const { executePayment } = proxyActivities<PaymentActivities>({
    taskQueue: input.approvalTaskQueue,
    startToCloseTimeout: '30s',
    // The payments API is idempotent on the approval's request id (Idempotency-Key): neither a retry nor a copy of
    // this workflow's input started again can pay twice.
    retry: { maximumAttempts: 5, nonRetryableErrorTypes: ['PaymentRefused'] },
  });

  const payInvoice = withApproval(
    tool({
      description: 'Pay an invoice. The user is asked to approve the exact payment on their device first.',
      inputSchema: InvoiceSchema,
      execute: async (invoice, options) => {
        const { accessToken, approvedAt, requestId } = approvalOf(options);
        const receipt = await executePayment({
          accessToken,
          payment: invoicePayment(invoice),
          idempotencyKey: requestId,
        });
        // Never the tokens: this goes to the model.
        return { paid: true, invoiceNumber: invoice.invoiceNumber, ...receipt, approvedAt };
      },
    }),
    (invoice) => ({
      loginHint: input.loginHint,
      bindingMessage: invoiceBindingMessage(invoice, input.providerProfile),
      authorizationDetails: invoiceAuthorizationDetails(invoice),
      ...input.approval,
    }),
    { taskQueue: input.approvalTaskQueue, providerProfile: input.providerProfile, toolName: 'payInvoice' },
  );

  const result = await generateText({
    model: temporalProvider.languageModel(PAY_INVOICE_MODEL_ID),
    system: PAY_INVOICE_SYSTEM_PROMPT,
    prompt: input.prompt,
    tools: { payInvoice },
    stopWhen: stepCountIs(input.maxSteps ?? 5),
  });
  return {
    text: result.text,
    toolResults: result.steps.flatMap((step) =>
      step.toolResults.map((r) => ({ toolName: r.toolName, input: r.input, output: r.output })),
    ),
    steps: result.steps.length,
  };
}

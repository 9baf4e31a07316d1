/**
 * The model behind the pay-invoice agent, chosen by the worker (model calls run in its activities, through
 * AiSdkPlugin): a real one when configured, else a scripted one, so the sample works offline.
 *
 * - OPENAI_API_KEY set: OpenAI's `CIBA_AGENT_MODEL` (default gpt-4o-mini) through @ai-sdk/openai (OPENAI_BASE_URL
 *   for a compatible server).
 * - Otherwise, or with CIBA_AGENT_MODEL=scripted: `ScriptedPayInvoiceModel`, which reads the invoice from the prompt
 *   with regular expressions, calls payInvoice once, and reports the tool's result.
 */
import { createOpenAI } from '@ai-sdk/openai';
import type {
  LanguageModelV4,
  LanguageModelV4CallOptions,
  LanguageModelV4GenerateResult,
  LanguageModelV4Prompt,
  LanguageModelV4StreamResult,
  ProviderV4,
} from '@ai-sdk/provider';
import type { Invoice } from './invoice';

export const DEFAULT_OPENAI_MODEL = 'gpt-4o-mini';

export interface AgentModel {
  provider: ProviderV4;
  /** For the worker's start line, e.g. "openai gpt-4o-mini" or "scripted (offline)". */
  description: string;
}

/** A provider whose every language model is `model` (the workflow names one model; the worker decides which). */
export function singleModelProvider(model: LanguageModelV4): ProviderV4 {
  const unsupported = (kind: string) => () => {
    throw new Error(`the pay-invoice agent's provider has no ${kind} models`);
  };
  return {
    specificationVersion: 'v4',
    languageModel: () => model,
    embeddingModel: unsupported('embedding'),
    imageModel: unsupported('image'),
  };
}

export function agentModel(env: NodeJS.ProcessEnv = process.env): AgentModel {
  const modelId = env.CIBA_AGENT_MODEL?.trim() || undefined;
  if (env.OPENAI_API_KEY && modelId !== 'scripted') {
    const openai = createOpenAI({ apiKey: env.OPENAI_API_KEY, baseURL: env.OPENAI_BASE_URL || undefined });
    const id = modelId ?? DEFAULT_OPENAI_MODEL;
    return { provider: singleModelProvider(openai(id)), description: `openai ${id}` };
  }
  return {
    provider: singleModelProvider(new ScriptedPayInvoiceModel()),
    description: 'scripted (offline; set OPENAI_API_KEY and CIBA_AGENT_MODEL for a real model)',
  };
}

const NO_USAGE = {
  inputTokens: { total: 0, noCache: 0, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 0, text: 0, reasoning: 0 },
};

/** Reads an invoice from a request such as "Pay invoice INV-1001: 50.00 USD to ExampleCorp". */
export function invoiceFromText(text: string): Invoice | undefined {
  const invoiceNumber =
    /\b(INV-?[A-Za-z0-9-]*\d[A-Za-z0-9-]*)/.exec(text)?.[1] ??
    /\binvoice\s+(?:number\s+)?#?([A-Za-z0-9-]*\d[A-Za-z0-9-]*)/i.exec(text)?.[1];
  const amountFirst = /(\d{1,12}(?:\.\d{1,2})?)\s*([A-Z]{3})\b/.exec(text);
  const currencyFirst = amountFirst ? undefined : /\b([A-Z]{3})\s*(\d{1,12}(?:\.\d{1,2})?)/.exec(text);
  const amount = amountFirst?.[1] ?? currencyFirst?.[2];
  const currency = amountFirst?.[2] ?? currencyFirst?.[1];
  const creditorName = /\bto\s+([\p{L}\p{N}][\p{L}\p{N} .&'-]*?)\s*(?:[,;!?]|\.(?:\s|$)|$)/u.exec(text)?.[1];
  if (!invoiceNumber || !amount || !currency || !creditorName) return undefined;
  return { invoiceNumber, amount, currency, creditorName };
}

function lastUserText(prompt: LanguageModelV4Prompt): string {
  for (let i = prompt.length - 1; i >= 0; i--) {
    const message = prompt[i]!;
    if (message.role === 'user')
      return message.content.map((part) => (part.type === 'text' ? part.text : '')).join(' ');
  }
  return '';
}

/** An offline model that pays the invoice named in the prompt once, then reports what the tool answered. */
export class ScriptedPayInvoiceModel implements LanguageModelV4 {
  readonly specificationVersion = 'v4';
  readonly provider = 'scripted';
  readonly modelId = 'scripted-pay-invoice';
  readonly supportedUrls = {};

  async doGenerate(options: LanguageModelV4CallOptions): Promise<LanguageModelV4GenerateResult> {
    const last = options.prompt[options.prompt.length - 1];
    if (last?.role === 'tool') {
      const results = last.content.flatMap((part) => (part.type === 'tool-result' ? [part.output] : []));
      return this.text(results.map(describeToolOutput).join('\n'));
    }
    const invoice = invoiceFromText(lastUserText(options.prompt));
    if (!invoice) {
      return this.text(
        'Which invoice should I pay? Give its number, the amount with currency and the creditor, e.g. ' +
          '"Pay invoice INV-1001: 50.00 USD to ExampleCorp".',
      );
    }
    return {
      content: [
        {
          type: 'tool-call',
          toolCallId: `call-${options.prompt.length}`,
          toolName: 'payInvoice',
          input: JSON.stringify(invoice),
        },
      ],
      finishReason: { unified: 'tool-calls', raw: undefined },
      usage: NO_USAGE,
      warnings: [],
    };
  }

  async doStream(_options: LanguageModelV4CallOptions): Promise<LanguageModelV4StreamResult> {
    throw new Error('the scripted model does not stream');
  }

  private text(text: string): LanguageModelV4GenerateResult {
    return {
      content: [{ type: 'text', text }],
      finishReason: { unified: 'stop', raw: undefined },
      usage: NO_USAGE,
      warnings: [],
    };
  }
}

/** The scripted model's sentence about a payInvoice result (a receipt, a refusal or an error). */
export function describeToolOutput(output: { type: string; value?: unknown }): string {
  const value = output.value as Record<string, unknown> | string | undefined;
  if (typeof value === 'object' && value !== null) {
    if (value.paid === true)
      return `Paid invoice ${String(value.invoiceNumber)}: payment ${String(value.paymentId)} is ${String(value.status)}.`;
    if (value.approved === false)
      return `The invoice was not paid: the approval ended "${String(value.outcome)}" (${String(value.reason)}).`;
  }
  return `The invoice was not paid: ${typeof value === 'string' ? value : JSON.stringify(value)}`;
}

/**
 * `withApproval`: an AI SDK tool that a person must approve, call by call, before it runs. For workflow code (an
 * agent workflow that calls `generateText` with @temporalio/ai-sdk's `temporalProvider`):
 *
 *   const payInvoice = withApproval(
 *     tool({ description, inputSchema: InvoiceSchema, execute: async (invoice, options) => {
 *       const { accessToken } = approvalOf(options);            // the tokens the user's approval produced
 *       return pay(accessToken, invoice);
 *     } }),
 *     (invoice) => ({                                          // the approval request, from the tool's arguments
 *       loginHint: 'alice@example.com',
 *       bindingMessage: `Pay invoice ${invoice.number}`,
 *       authorizationDetails: [{ type: 'payment_initiation', ... }],
 *     }),
 *     { taskQueue: 'ciba-approvals' },                           // the approval worker's task queue
 *   );
 *   await generateText({ model: temporalProvider.languageModel('gpt-4o-mini'), tools: { payInvoice }, ... });
 *
 * How a call goes. The AI SDK runs a tool's `execute` in the workflow itself (only the model runs in an activity,
 * through the AiSdkPlugin), so the wrapper may start child workflows:
 * 1. The request is built from the tool's arguments and checked with `ApprovalRequestSchema` (and, with
 *    `providerProfile`, against the provider's rules for binding messages and authorization_details). A request that
 *    fails is not sent: the model gets a refusal with outcome `invalid_request` and the reason, so that it can correct
 *    its arguments. (A request builder that throws counts the same.)
 * 2. The approval runs as a child workflow (`requestApproval`, workflows/request-approval.ts): the user is asked on
 *    their device; the agent waits durably, for minutes or days.
 * 3. Approved: the tool's own `execute(input, options)` runs, with the approval in `options.approval` (read it typed
 *    with `approvalOf(options)`): the tokens, the granted authorization_details, when it was approved, and the
 *    approval's workflow ID. Its result is what the model gets.
 * 4. Not approved (denied, expired, cancelled, the provider refused the request, ...): the tool does not run and the
 *    model gets an `ApprovalRefusal`, `{ approved: false, outcome, failureType, reason }`: what happened (`outcome`,
 *    one word per failure type of common/outcomes.ts) and why. The workflow goes on; the model decides what to say.
 *    Only when the agent workflow itself is being cancelled does the cancellation propagate.
 *
 * Tokens reach the tool's `execute` only, never the model, unless the tool returns them (don't). The wrapper keeps
 * the tool's description, input schema and other fields; a streaming `execute` (an AsyncIterable) is run to its end
 * and its last value is the result.
 *
 * Workflow code: deterministic, no Node APIs.
 */
import {
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  isCancellation,
  patched,
  TerminatedFailure,
  TimeoutFailure,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { Tool, ToolExecutionOptions } from 'ai';
import {
  ApprovalRequestSchema,
  formatZodError,
  type ApprovalRequestInput,
  type ApprovalResult,
} from '../common/approval';
import { ApprovalFailureType, FAILURE_OUTCOMES, failureOutcome } from '../common/outcomes';
import { PROVIDER_PROFILES, profileViolations, type ProviderProfileName } from '../common/provider-profile';
import { approvalFailureType, requestApproval } from '../workflows/request-approval';
import { checkedStartSeal } from '../workflows/sealed-start';
import { derivedRequestId } from '../common/start-seal';

/** Runs started before approval keys were numbered (a random key each). */
const NUMBERED_KEYS = 'with-approval-numbered-keys';
/** Approvals this run's tools asked for without a key of their own. */
let approvalCalls = 0;

/** A tool's context type (the AI SDK's `Context`, which `ai` does not export). */
type Context = Record<string, unknown>;

/** What the model gets instead of the tool's result, for every failure type of common/outcomes.ts. */
export const REFUSAL_OUTCOMES = {
  AuthorizationDetailsNotGranted: 'not_granted',
  ApprovalDenied: 'denied',
  ApprovalExpired: 'expired',
  ApprovalLost: 'lost',
  CibaProviderError: 'rejected',
  ApprovalInitiationUncertain: 'uncertain',
  ProviderUnavailable: 'unavailable',
  InvalidProviderResponse: 'invalid_answer',
  InvalidApprovalRequest: 'invalid_request',
  PayloadNotEncrypted: 'not_encrypted',
  PayloadKeyMismatch: 'key_mismatch',
  InputNotSealed: 'not_sealed',
  InputReplayed: 'replayed',
  AskRateLimited: 'rate_limited',
  ActivityFailed: 'activity_failed',
  ApprovalCancelled: 'cancelled',
  ApprovalTerminated: 'terminated',
  ApprovalTimedOut: 'timed_out',
  ApprovalFailed: 'failed',
} as const satisfies Record<ApprovalFailureType, string>;

export type RefusalOutcome = (typeof REFUSAL_OUTCOMES)[keyof typeof REFUSAL_OUTCOMES];

/** The tool's result when the user did not approve (or could not be asked): plain JSON, for the model. */
export interface ApprovalRefusal {
  approved: false;
  /** What happened: `denied`, `expired`, `cancelled`, `invalid_request`, ... (REFUSAL_OUTCOMES). */
  outcome: RefusalOutcome;
  /** The approval's failure type (common/outcomes.ts): ApprovalDenied, ApprovalExpired, ... */
  failureType: string;
  /** Why, in one sentence: the failure type's meaning, and the failure's own message when it adds something. */
  reason: string;
  /** The approval's workflow ID, when one was started (for the operator; the Temporal UI shows it). */
  approvalWorkflowId?: string;
}

/** What an approved call's `execute` gets in `options.approval`. */
export interface GrantedApproval extends ApprovalResult {
  /** The approval's workflow ID (a child of the agent workflow). */
  approvalWorkflowId: string;
  /**
   * The approval's request id (derived from the agent's start seal, when the agent checked one with checkStartSeal):
   * the key to make the approved action idempotent on, so that a copy of the agent's input pays nothing twice.
   */
  requestId?: string;
}

/** The execution options an approved call's `execute` gets: the AI SDK's, plus `approval`. */
export type ApprovedToolExecutionOptions<CONTEXT = unknown> = ToolExecutionOptions<CONTEXT> & {
  approval: GrantedApproval;
};

export interface WithApprovalOptions<INPUT> {
  /** The approval worker's task queue (CIBA_TASK_QUEUE); default: the agent workflow's own. */
  taskQueue?: string;
  /**
   * Also check the request against this provider profile's rules before starting the approval (the approval worker
   * checks them anyway, and would refuse the request as `invalid_request` after starting a child workflow).
   */
  providerProfile?: ProviderProfileName;
  /**
   * The approval's key among the agent's approvals, part of its workflow ID (`<agent id>/approval/<key>`).
   * Default: `<toolName>-<deterministic UUID>`.
   */
  key?: (input: INPUT, call: { toolCallId: string }) => string;
  /** The tool's name, in the default key and in refusals' reasons. Default: `tool`. */
  toolName?: string;
}

/** The approval request for one call of the tool: from the tool's arguments (and the call's ID). */
export type ApprovalRequestBuilder<INPUT> = (input: INPUT, call: { toolCallId: string }) => ApprovalRequestInput;

/**
 * Wraps `tool` (an AI SDK tool with `execute`) so that each call first asks for approval; see this file's header.
 * The wrapped tool's output is the tool's own output when approved, else an `ApprovalRefusal`.
 */
export function withApproval<INPUT, OUTPUT, CONTEXT extends Context = Context>(
  tool: Tool<INPUT, OUTPUT, CONTEXT>,
  approvalRequest: ApprovalRequestBuilder<INPUT>,
  options: WithApprovalOptions<INPUT> = {},
): Tool<INPUT, OUTPUT | ApprovalRefusal, CONTEXT> {
  const execute = tool.execute as
    ((input: INPUT, options: ApprovedToolExecutionOptions<CONTEXT>) => unknown) | undefined;
  if (typeof execute !== 'function') {
    throw new TypeError('withApproval: the tool has no execute function (nothing to run once approved)');
  }
  const toolName = options.toolName ?? 'tool';

  async function approvedExecute(
    input: INPUT,
    callOptions: ToolExecutionOptions<CONTEXT>,
  ): Promise<OUTPUT | ApprovalRefusal> {
    const call = { toolCallId: callOptions.toolCallId };
    let request: ApprovalRequestInput;
    try {
      request = approvalRequest(input, call);
    } catch (error) {
      return invalidRequest(`the approval request could not be built: ${messageOf(error)}`);
    }
    const parsed = ApprovalRequestSchema.safeParse(request);
    if (!parsed.success) return invalidRequest(formatZodError(parsed.error));
    if (options.providerProfile) {
      const violations = profileViolations(PROVIDER_PROFILES[options.providerProfile], parsed.data, {
        repeatable: parsed.data.askAgain.afterLostAnswer,
      });
      if (violations.length) return invalidRequest(violations.map((v) => v.message).join('; '));
    }

    // Numbered, so that a copy of the agent's input started again derives the same approval request ids (which the
    // user's ask gate refuses); runs from before numbering keep their random keys.
    const key = options.key?.(input, call) ?? `${toolName}-${patched(NUMBERED_KEYS) ? ++approvalCalls : uuid4()}`;
    const parentSeal = checkedStartSeal();
    // The ID requestApproval gives the child workflow.
    const approvalWorkflowId = `${workflowInfo().workflowId}/approval/${key}`;
    let result: ApprovalResult;
    try {
      result = await requestApproval(request, { key, taskQueue: options.taskQueue });
    } catch (error) {
      // The agent itself is being cancelled: let that through (the approval was cancelled with it).
      if (isCancellation(error) && CancellationScope.current().consideredCancelled) throw error;
      const refusal = refusalFor(error, approvalWorkflowId);
      if (!refusal) throw error;
      return refusal;
    }
    const approved: ApprovedToolExecutionOptions<CONTEXT> = {
      ...callOptions,
      approval: {
        ...result,
        approvalWorkflowId,
        ...(parentSeal && { requestId: derivedRequestId(parentSeal.requestId, key) }),
      },
    };
    return (await lastValue(execute!(input, approved))) as OUTPUT;
  }

  const wrapped: Record<string, unknown> = { ...tool, execute: approvedExecute };
  // The refusal is not the tool's output type: keep any toModelOutput of the tool away from it.
  if (typeof tool.toModelOutput === 'function') {
    const toModelOutput = tool.toModelOutput.bind(tool);
    wrapped.toModelOutput = (arg: { toolCallId: string; input: INPUT; output: unknown }) =>
      isApprovalRefusal(arg.output)
        ? { type: 'json' as const, value: { ...arg.output } }
        : toModelOutput(arg as Parameters<typeof toModelOutput>[0]);
  }
  // An output schema describes the approved result only.
  delete wrapped.outputSchema;
  return wrapped as unknown as Tool<INPUT, OUTPUT | ApprovalRefusal, CONTEXT>;
}

/** The approval an approved call's `execute` runs with (throws when `options` came from no `withApproval` tool). */
export function approvalOf(options: ToolExecutionOptions<unknown>): GrantedApproval {
  const approval = (options as Partial<ApprovedToolExecutionOptions>).approval;
  if (!approval) {
    throw ApplicationFailure.nonRetryable(
      'approvalOf: this execute was not called by a withApproval tool (no approval in its options)',
      'NoApproval',
    );
  }
  return approval;
}

/** True for the result of a call that was not approved. */
export function isApprovalRefusal(output: unknown): output is ApprovalRefusal {
  return (
    typeof output === 'object' &&
    output !== null &&
    (output as { approved?: unknown }).approved === false &&
    typeof (output as { outcome?: unknown }).outcome === 'string'
  );
}

/** The refusal for a failed approval (undefined: `error` is no approval's failure, e.g. a bug: rethrow it). */
export function refusalFor(error: unknown, approvalWorkflowId?: string): ApprovalRefusal | undefined {
  const type = failureTypeOf(error);
  if (type === undefined) return undefined;
  const known = Object.prototype.hasOwnProperty.call(REFUSAL_OUTCOMES, type);
  const meaning = failureOutcome(type)?.meaning ?? FAILURE_OUTCOMES.ApprovalFailed.meaning;
  const message = error instanceof ChildWorkflowFailure ? error.cause?.message : undefined;
  return {
    approved: false,
    outcome: known ? REFUSAL_OUTCOMES[type as ApprovalFailureType] : 'failed',
    failureType: type,
    reason: message && !meaning.includes(message) ? `${meaning} (${message})` : meaning,
    ...(approvalWorkflowId ? { approvalWorkflowId } : {}),
  };
}

/** The approval failure type of `error`, including the ends an approval does not type itself (terminated, ...). */
function failureTypeOf(error: unknown): string | undefined {
  const type = approvalFailureType(error);
  if (type !== undefined) return type;
  if (!(error instanceof ChildWorkflowFailure)) return undefined;
  if (error.cause instanceof TerminatedFailure) return ApprovalFailureType.Terminated;
  if (error.cause instanceof TimeoutFailure) return ApprovalFailureType.TimedOut;
  return ApprovalFailureType.Failed;
}

function invalidRequest(problem: string): ApprovalRefusal {
  return {
    approved: false,
    outcome: 'invalid_request',
    failureType: ApprovalFailureType.InvalidRequest,
    reason: `the approval request is invalid, nothing was sent: ${problem}`,
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The value of `result`: awaited, or the last value of an AsyncIterable (a streaming tool). */
async function lastValue(result: unknown): Promise<unknown> {
  if (result !== null && typeof result === 'object' && Symbol.asyncIterator in result) {
    let last: unknown;
    for await (const value of result as AsyncIterable<unknown>) last = value;
    return last;
  }
  return await result;
}

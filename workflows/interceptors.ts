/**
 * Workflow interceptors of the worker (Worker.create's `interceptors.workflowModules`, also in replay): only holders
 * of the payload key can make a workflow act.
 *
 * The worker's payload codec (common/payload-codec.ts, `onUnreadable: 'mark'`) hands workflow code a marker
 * (common/rejected-payload.ts) in place of any payload that is not encrypted, or that none of its keys decrypts.
 * Here, before any workflow function runs:
 * - a workflow whose start arguments hold a marker fails at once, non-retryable, typed PayloadNotEncrypted or
 *   PayloadKeyMismatch (every workflow of this worker: cibaApproval, paymentAgent, any later one);
 * - a signal with a marker is dropped (logged); an update is rejected; a query fails;
 * - an activity or child workflow result with a marker fails the workflow the same way.
 *
 * The failures have a message only: no details (the other side could not decode them), and the message, which
 * Temporal stores unencrypted, names only key ids and encodings, never any part of the payload.
 *
 * Deterministic: the decision depends only on the payloads in history. A worker that replays a running workflow
 * whose payloads it cannot read (it lacks a key another worker has) fails at the same point its first run did not:
 * a non-determinism error fails the workflow task, which Temporal retries, and the workflow is not ended.
 */
import { ApplicationFailure, log, type WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { ApprovalFailureType } from '../common/outcomes';
import { rejectedPayloadOf, rejectionMessage, type RejectedPayload } from '../common/rejected-payload';

function firstRejected(values: readonly unknown[]): RejectedPayload | undefined {
  for (const value of values) {
    const rejected = rejectedPayloadOf(value);
    if (rejected) return rejected;
  }
  return undefined;
}

/** The failure a marker becomes: typed, non-retryable, no details. */
export function rejectionFailure(rejected: RejectedPayload, subject: string): ApplicationFailure {
  return ApplicationFailure.create({
    message: rejectionMessage(rejected, subject),
    type:
      rejected.reason === 'key_mismatch'
        ? ApprovalFailureType.PayloadKeyMismatch
        : ApprovalFailureType.PayloadNotEncrypted,
    nonRetryable: true,
  });
}

function checked(value: unknown, subject: string): unknown {
  const rejected = rejectedPayloadOf(value);
  if (rejected) throw rejectionFailure(rejected, subject);
  return value;
}

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [
    {
      async execute(input, next) {
        const rejected = firstRejected(input.args);
        if (rejected) {
          const failure = rejectionFailure(rejected, 'the input');
          // Someone without the key tried to start a workflow (or a client has the wrong key): worth an operator's eye.
          log.warn(`workflow refused before it ran: ${failure.type}: ${failure.message}`);
          throw failure;
        }
        return next(input);
      },
      async handleSignal(input, next) {
        const rejected = firstRejected(input.args);
        if (rejected) {
          log.warn(`signal ${input.signalName} dropped: ${rejectionMessage(rejected, 'its input')}`);
          return;
        }
        return next(input);
      },
      validateUpdate(input, next) {
        const rejected = firstRejected(input.args);
        if (rejected) throw rejectionFailure(rejected, `the input of update ${input.name}`);
        return next(input);
      },
      async handleUpdate(input, next) {
        const rejected = firstRejected(input.args);
        if (rejected) throw rejectionFailure(rejected, `the input of update ${input.name}`);
        return next(input);
      },
      async handleQuery(input, next) {
        const rejected = firstRejected(input.args);
        if (rejected) throw rejectionFailure(rejected, `the arguments of query ${input.queryName}`);
        return next(input);
      },
    },
  ],
  outbound: [
    {
      async scheduleActivity(input, next) {
        return checked(await next(input), `the result of activity ${input.activityType}`);
      },
      async scheduleLocalActivity(input, next) {
        return checked(await next(input), `the result of local activity ${input.activityType}`);
      },
      async startChildWorkflowExecution(input, next) {
        const [started, completed] = await next(input);
        const result = completed.then((value) => checked(value, `the result of child workflow ${input.workflowType}`));
        result.catch(() => undefined); // whoever awaits it sees the failure; nobody awaiting it is not an error
        return [started, result];
      },
    },
  ],
});

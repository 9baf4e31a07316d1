/**
 * The activity that asks the user's ask gate (workflows/user-asks.ts) for permission to send one ask: an
 * update-with-start on the gate's workflow, through the worker's own client (so the update is encrypted like every
 * payload). The gate's workflow ID is a keyed hash of the user's hint and the task queue: no personal data in it, and
 * nobody without the payload key can tell which user a gate belongs to.
 */
import { createHmac, hkdfSync } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { WithStartWorkflowOperation } from '@temporalio/client';
import { grpcStatusOf } from '../common/grpc-status';
import { grantAskUpdate, USER_ASKS_WORKFLOW, type AskGrant, type AskLimits } from '../common/ask-gate';

export const USER_GATE_ID_PREFIX = 'ciba-user-asks-';
const HKDF_INFO = 'ciba-user-gate-v1';

/** The key that names users' gates, derived from the payload key (HKDF-SHA256, info 'ciba-user-gate-v1'). */
export function userGateKeyFrom(payloadKey: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', payloadKey, new Uint8Array(0), HKDF_INFO, 32));
}

/**
 * The gate's workflow ID for a user on a task queue. An e-mail hint is compared without case, as providers do; any
 * other hint (an `iss_sub` JSON, a login_hint_token, an id_token_hint) as given.
 */
export function userGateId(key: Uint8Array, taskQueue: string, hint: UserHint): string {
  const value = hint.kind === 'loginHint' && hint.value.includes('@') ? hint.value.trim().toLowerCase() : hint.value;
  const mac = createHmac('sha256', key).update(`${taskQueue}\0${hint.kind}\0${value}`).digest('base64url');
  return `${USER_GATE_ID_PREFIX}${mac.slice(0, 32)}`;
}

export interface UserHint {
  kind: 'loginHint' | 'loginHintToken' | 'idTokenHint';
  value: string;
}

export interface GrantAskInput {
  hint: UserHint;
  approvalId: string;
  chainId: string;
  requestId: string;
  askKey: string;
  leaseMs: number;
}

export interface GrantAskResult {
  answer: AskGrant;
  /** The gate's workflow ID: the approval tells it when its ask ends. */
  gateId: string;
}

export interface UserAskSettings {
  /** From userGateKeyFrom(current payload key). */
  gateKey: Uint8Array;
  limits: AskLimits;
}

export function createUserAskActivities(settings: UserAskSettings) {
  return {
    async grantAsk(input: GrantAskInput): Promise<GrantAskResult> {
      const { client, info } = Context.current();
      const gateId = userGateId(settings.gateKey, info.taskQueue, input.hint);
      const { hint: _hint, ...request } = input;
      const answer = await client.workflow
        .executeUpdateWithStart(grantAskUpdate, {
          args: [{ ...request, limits: settings.limits }],
          // The same ask granted twice (a retried activity) is one update within a run; the gate also knows it by askKey.
          updateId: input.askKey,
          startWorkflowOperation: new WithStartWorkflowOperation(USER_ASKS_WORKFLOW, {
            workflowId: gateId,
            taskQueue: info.taskQueue,
            workflowIdConflictPolicy: 'USE_EXISTING',
            args: [],
            staticSummary: 'ask gate of one user (limits asks across approvals)',
          }),
        })
        .catch((error: unknown) => {
          if (isResourceExhausted(error)) {
            // Temporal takes at most 10 updates in flight per workflow: many approvals of one user asked at once.
            throw ApplicationFailure.retryable(
              `the user's ask gate is busy (too many asks at once): retried after a backoff`,
              ASK_GATE_BUSY,
            );
          }
          throw error;
        });
      return { answer, gateId };
    },
  };
}

/** The error type of a grantAsk that found the user's gate busy (retryable: the workflow's retry policy backs off). */
export const ASK_GATE_BUSY = 'AskGateBusy';

const RESOURCE_EXHAUSTED = 8;

/** The gRPC answer RESOURCE_EXHAUSTED, bare or inside the SDK's ServiceError. */
function isResourceExhausted(error: unknown): boolean {
  return grpcStatusOf(error) === RESOURCE_EXHAUSTED;
}

export type UserAskActivities = ReturnType<typeof createUserAskActivities>;

/**
 * The approval request an approval's workflow got, read back from its history (the first event of its latest run:
 * a run continued as new carries the same request, seal included) and decrypted with the payload key. The start seal's
 * request id is the approval's one identity: gated tools make their side effect idempotent on it.
 */
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import type { Client } from '@temporalio/client';
import { ApprovalRequestSchema, type ApprovalRequest } from '../common/approval';

export interface StartedRequest {
  request: ApprovalRequest;
  /** The start seal's request id. */
  requestId: string;
}

export async function startedRequest(client: Client, workflowId: string): Promise<StartedRequest> {
  const response = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId },
    maximumPageSize: 1,
  });
  const started = response.history?.events?.[0]?.workflowExecutionStartedEventAttributes;
  const input = await decodeFromPayloadsAtIndex<unknown>(
    client.options.loadedDataConverter,
    0,
    started?.input?.payloads,
  );
  const request = ApprovalRequestSchema.parse(input);
  if (!request.seal) throw new Error(`approval ${workflowId} has no start seal`);
  return { request, requestId: request.seal.requestId };
}

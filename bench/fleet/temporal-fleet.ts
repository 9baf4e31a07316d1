/**
 * A Temporal mode: the real worker in its own process, approvals started with the client library
 * (client/approvals.ts), results and counts read from Temporal (visibility for every approval, full histories for a
 * sample).
 */
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { ApprovalClient, ApprovalFailedError, InvalidApprovalRequestError } from '../../client/approvals';
import { temporalSettings } from '../../common/config';
import { ApprovalFailureType } from '../../common/outcomes';
import { log, mapLimit, waitUntil } from './measure';
import type { TemporalMode } from './modes';
import type { ApprovalRecord, Phases, StartSteps, TemporalCounts } from './records';
import type { Fleet } from './run';
import { stackEnv, startWorker, type BenchServer } from './stack';

const EventType = proto.api.enums.v1.EventType;
type HistoryEvent = proto.api.history.v1.IHistoryEvent;

const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
  t ? Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6 : 0;

/**
 * The billable actions a history shows, as Temporal Cloud counts them (docs.temporal.io/cloud/actions): a workflow
 * started (not again for a run that continues one), continue-as-new, each activity scheduled and each retry of it
 * (attempt - 1 of its started event), each timer, signal received or sent, search-attribute upsert, workflow options
 * updated, accepted update, child workflow (two: its start and its execution), and markers (local
 * activities, side effects, patches) once per workflow task that recorded any ("all RecordMarkers from each Workflow
 * Task as one action"). Not in the history, so not here: recorded heartbeats, queries, rejected updates; the
 * server's `action` counter has them.
 */
export function actionsIn(events: HistoryEvent[]): Array<{ type: string; atMs: number; count: number }> {
  const actions: Array<{ type: string; atMs: number; count: number }> = [];
  const add = (type: string, e: HistoryEvent, count = 1) => actions.push({ type, atMs: ms(e.eventTime), count });
  const tasksWithMarkers = new Set<string>();
  for (const e of events) {
    switch (e.eventType) {
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
        if (!e.workflowExecutionStartedEventAttributes?.continuedExecutionRunId) add('workflow started', e);
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
        add('continue-as-new', e);
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        add(`activity ${e.activityTaskScheduledEventAttributes?.activityType?.name ?? '?'}`, e);
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
        const attempt = e.activityTaskStartedEventAttributes?.attempt ?? 1;
        if (attempt > 1) add('activity retry', e, attempt - 1);
        break;
      }
      case EventType.EVENT_TYPE_TIMER_STARTED:
        add('timer', e);
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
      case EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
        add('signal', e);
        break;
      case EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
        add('search attribute upsert', e);
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED:
        add('workflow options updated', e);
        break;
      case EventType.EVENT_TYPE_MARKER_RECORDED: {
        const task = String(e.markerRecordedEventAttributes?.workflowTaskCompletedEventId ?? e.eventId);
        if (tasksWithMarkers.has(task)) break;
        tasksWithMarkers.add(task);
        add('markers of a workflow task (local activities, patches)', e);
        break;
      }
      case EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
        add('child workflow', e, 2);
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
        add('update', e);
        break;
    }
  }
  return actions;
}

/** Where one approval's start went, from its first run's history. */
export function startStepsIn(bindingMessage: string, events: HistoryEvent[]): StartSteps {
  const first = (type: number, where: (e: HistoryEvent) => boolean = () => true) => {
    const event = events.find((e) => e.eventType === type && where(e));
    return event ? ms(event.eventTime) : undefined;
  };
  const initiation = events.find(
    (e) =>
      e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED &&
      e.activityTaskScheduledEventAttributes?.activityType?.name === 'requestBackchannelAuthentication',
  );
  return {
    bindingMessage,
    workflowStartedMs: first(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED) ?? 0,
    firstTaskStartedMs: first(EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED),
    firstTaskCompletedMs: first(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
    initiationScheduledMs: initiation ? ms(initiation.eventTime) : undefined,
    initiationStartedMs: initiation
      ? first(
          EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED,
          (e) => Number(e.activityTaskStartedEventAttributes?.scheduledEventId) === Number(initiation.eventId),
        )
      : undefined,
  };
}

export async function temporalFleet(
  mode: TemporalMode,
  server: BenchServer,
  issuer: string,
  runId: string,
  payloadKey: string,
  historySample: number,
): Promise<Fleet> {
  const taskQueue = `bench-fleet-${mode.name}-${runId}`;
  const env = stackEnv(server, issuer, taskQueue, payloadKey, mode.workerEnv);
  let worker = await startWorker(env);
  const approvals = await ApprovalClient.connect(temporalSettings(env)).catch(async (error: unknown) => {
    await worker.stop();
    throw error;
  });
  const client = approvals.client;
  // The approvals only: the per-user ask gate (cibaUserAsks) runs on the same task queue and outlives them.
  const inQueue = `TaskQueue = "${taskQueue}" AND WorkflowType = "cibaApproval"`;
  const count = async (query: string) => (await client.workflow.count(`${inQueue} AND ${query}`)).count;
  let refusedChecked = 0;

  /** Why the first failed approvals failed, if it was InvalidApprovalRequest (the mode is not accepted). */
  async function refusal(): Promise<string | undefined> {
    for await (const info of client.workflow.list({
      query: `${inQueue} AND ExecutionStatus = "Failed"`,
      pageSize: 5,
    })) {
      const error = await approvals.result(info.workflowId).then(
        () => undefined,
        (e: unknown) => e,
      );
      if (error instanceof ApprovalFailedError && error.type === ApprovalFailureType.InvalidRequest) {
        return `approvals fail InvalidApprovalRequest: ${error.message}`;
      }
      return undefined;
    }
    return undefined;
  }

  /** Every run of every approval (continue-as-new makes more than one), grouped by workflow id. */
  async function listRuns(): Promise<Map<string, WorkflowExecutionInfo[]>> {
    const runs = new Map<string, WorkflowExecutionInfo[]>();
    for await (const info of client.workflow.list({ query: inQueue, pageSize: 1000 })) {
      runs.set(info.workflowId, [...(runs.get(info.workflowId) ?? []), info]);
    }
    return runs;
  }

  let runsByWorkflow = new Map<string, WorkflowExecutionInfo[]>();

  return {
    pids: { worker: worker.pid },

    async crashWorker() {
      await worker.crash();
      worker = await startWorker(env);
    },

    async burst(records, request) {
      let refused: string | undefined;
      await Promise.all(
        records.map(async (record, i) => {
          record.startCallMs = Date.now();
          try {
            const { workflowId } = await approvals.start(request(record), { key: `fleet-${runId}-${i}` });
            record.workflowId = workflowId;
            record.startAckMs = Date.now();
          } catch (error) {
            if (error instanceof InvalidApprovalRequestError)
              refused = `the client refuses the request: ${error.message}`;
            else record.outcome = `start failed: ${(error as Error).message}`;
          }
        }),
      );
      return refused;
    },

    async ended(records) {
      const notStarted = records.filter((r) => !r.workflowId).length;
      const closed = await count('ExecutionStatus != "Running"');
      let refused: string | undefined;
      if (closed > refusedChecked) {
        refusedChecked = closed;
        refused = await refusal();
      }
      return { count: notStarted + closed, refused };
    },

    async results(records, timeoutMs) {
      let lastSaid = Date.now();
      await waitUntil(
        async () => {
          const running = await count('ExecutionStatus = "Running"');
          if (Date.now() - lastSaid > 10_000) {
            log(`${mode.name} n=${records.length}: ${running} approvals still running`);
            lastSaid = Date.now();
          }
          return running === 0 ? true : undefined;
        },
        `${mode.name}: every approval closed`,
        timeoutMs,
      );
      const started = records.filter((r) => r.workflowId);
      // Visibility may trail the close by a moment: list until every approval's last run shows closed.
      runsByWorkflow = await waitUntil(
        async () => {
          const runs = await listRuns();
          const closed = started.every((r) => {
            const last = runs.get(r.workflowId!)?.find((run) => run.status.name !== 'CONTINUED_AS_NEW');
            return last?.closeTime !== undefined;
          });
          return closed ? runs : undefined;
        },
        `${mode.name}: visibility shows every approval closed`,
        timeoutMs,
      );
      await mapLimit(started, 20, async (record) => {
        const last = runsByWorkflow.get(record.workflowId!)!.find((run) => run.status.name !== 'CONTINUED_AS_NEW')!;
        record.resultMs = last.closeTime!.getTime();
        record.outcome = await approvals.result(record.workflowId!).then(
          (result) =>
            result.accessToken && result.authorizationDetails?.length ? 'approved' : 'approved without details',
          (error: unknown) =>
            error instanceof ApprovalFailedError ? error.type : `error: ${(error as Error).message}`,
        );
      });
    },

    async counts(records: ApprovalRecord[], phases: Phases) {
      const started = records.filter((r) => r.workflowId);
      const historyEvents = started.map((r) =>
        runsByWorkflow.get(r.workflowId!)!.reduce((n, run) => n + run.historyLength, 0),
      );
      const runsPerApproval = started.map((r) => runsByWorkflow.get(r.workflowId!)!.length);
      const sampleSize = Math.min(started.length, historySample);
      const sample = Array.from(
        { length: sampleSize },
        (_, i) => started[Math.floor((i * started.length) / sampleSize)]!,
      );
      const sampleActions = new Map<string, number>();
      const sampleActionsWhileWaiting = new Map<string, number>();
      const sampleWaitingActionTimes: Array<{ bindingMessage: string; times: number[] }> = [];
      const sampleActionTimes: NonNullable<TemporalCounts['sampleActionTimes']> = [];
      const startSteps: StartSteps[] = [];
      await mapLimit(sample, 5, async (record) => {
        const times: number[] = [];
        const all: Array<{ type: string; atMs: number; count: number }> = [];
        for (const run of runsByWorkflow.get(record.workflowId!)!) {
          const history = await client.workflow.getHandle(record.workflowId!, run.runId).fetchHistory();
          const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
          if (started && !started.continuedExecutionRunId)
            startSteps.push(startStepsIn(record.bindingMessage, history.events ?? []));
          for (const action of actionsIn(history.events ?? [])) {
            all.push(action);
            sampleActions.set(action.type, (sampleActions.get(action.type) ?? 0) + action.count);
            if (action.atMs < phases.steadyFromMs || action.atMs >= phases.decideStartMs) continue;
            const waiting = sampleActionsWhileWaiting.get(action.type) ?? 0;
            sampleActionsWhileWaiting.set(action.type, waiting + action.count);
            for (let i = 0; i < action.count; i++) times.push(action.atMs);
          }
        }
        sampleWaitingActionTimes.push({ bindingMessage: record.bindingMessage, times });
        sampleActionTimes.push({ bindingMessage: record.bindingMessage, actions: all });
      });
      return {
        historyEvents,
        runsPerApproval,
        sampled: sample.length,
        sampleActions,
        sampleActionsWhileWaiting,
        sampleWaitingActionTimes,
        sampleActionTimes,
        startSteps,
      };
    },

    async stop() {
      await approvals.close().catch(() => undefined);
      await worker.stop();
    },
  };
}

/**
 * The activity through which approval workflows report their own metrics (workflows/metrics.ts: why not from workflow
 * code). It adds the report to the worker runtime's meter, labelled as the workflow's metricMeter labels them
 * (namespace, task queue, workflow type), so the series are those workflow code emitted before.
 *
 * Each report is scheduled once per approval (by a command the server accepted). A second attempt of the same report
 * comes only after the first one's completion did not reach the server: in this process (its counts are here), it is
 * counted no more; in another (the first worker died, and its counts with it), it is counted there.
 */
import { Context } from '@temporalio/activity';
import { Runtime } from '@temporalio/worker';
import { emitApprovalMetrics, type ApprovalMetricsActivities, type ApprovalMetricsReport } from '../workflows/metrics';

/** Reports counted by this process, by workflow run and activity id; the oldest forgotten past this many. */
const REMEMBERED_REPORTS = 10_000;

export function createApprovalMetricsActivities(): ApprovalMetricsActivities {
  const counted = new Set<string>();
  return {
    async recordApprovalMetrics(report: ApprovalMetricsReport): Promise<void> {
      const { info } = Context.current();
      const key = `${info.workflowExecution?.workflowId}/${info.workflowExecution?.runId}/${info.activityId}`;
      if (counted.has(key)) return;
      emitApprovalMetrics(
        Runtime.instance().metricMeter.withTags({
          namespace: info.workflowNamespace ?? info.namespace,
          taskQueue: info.taskQueue,
          workflowType: info.workflowType ?? 'unknown',
        }),
        report,
      );
      counted.add(key);
      if (counted.size > REMEMBERED_REPORTS) counted.delete(counted.values().next().value!);
    },
  };
}

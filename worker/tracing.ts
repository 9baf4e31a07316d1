/**
 * Opt-in OpenTelemetry tracing (worker/config.ts: on when an OTLP endpoint is set). The SDK's interceptors
 * (@temporalio/interceptors-opentelemetry) trace workflows and activities and carry the trace context in Temporal
 * headers, so a caller's trace (a service's ApprovalClient.start, or an agent workflow's child approval) continues
 * into the approval. Spans go to the OTLP/HTTP endpoint as JSON. Off, none of this is registered: no workflow
 * interceptor module in the bundle, no activity interceptor.
 */
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import {
  OpenTelemetryActivityInboundInterceptor,
  makeWorkflowExporter,
  type OpenTelemetrySinks,
} from '@temporalio/interceptors-opentelemetry';
import type { InjectedSinks, WorkerInterceptors } from '@temporalio/worker';
import type { WorkflowInfo } from '@temporalio/workflow';
import type { TracingConfig } from './config';

/** The tracing a worker registers, and how to flush and stop it. */
export interface WorkerTracing {
  /** The given interceptors first (workers' own), then the SDK's OpenTelemetry ones. */
  interceptors(base: WorkerInterceptors): WorkerInterceptors;
  /** The workflow span exporter sink (the workflow interceptors send their spans through it). */
  sinks: InjectedSinks<OpenTelemetrySinks>;
  /** Exports the spans still buffered and stops. */
  shutdown(): Promise<void>;
}

/**
 * Registers the process' tracer provider with a batching OTLP/HTTP exporter, the default propagators (W3C trace
 * context and baggage, or OTEL_PROPAGATORS) and an async-local context: the activity interceptor needs both to
 * continue the workflow's trace.
 */
export function startTracing(config: TracingConfig): WorkerTracing {
  const resource = new Resource({ 'service.name': config.serviceName });
  const spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter({ url: config.tracesUrl }));
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register({
    contextManager: new AsyncLocalStorageContextManager().enable(),
  });
  const tracer = provider.getTracer('ciba-worker');
  const exporter = makeWorkflowExporter(spanProcessor, resource);
  return {
    interceptors: (base) => ({
      ...base,
      workflowModules: [
        ...(base.workflowModules ?? []),
        require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors'),
      ],
      activity: [
        ...(base.activity ?? []),
        (ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer }) }),
      ],
    }),
    sinks: {
      exporter: {
        export: {
          ...exporter.export,
          // The SDK adds the whole WorkflowInfo to each workflow span's attributes, search attributes and memo
          // included (CibaSummary: what is asked). Only these identifiers go with them.
          fn: (info, spans) => exporter.export.fn(spanInfo(info), spans),
        },
      },
    },
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

/** What of a workflow's info its spans carry: identifiers, no search attribute, memo or input. */
function spanInfo(info: WorkflowInfo): WorkflowInfo {
  const kept: Partial<WorkflowInfo> = {
    workflowType: info.workflowType,
    workflowId: info.workflowId,
    runId: info.runId,
    namespace: info.namespace,
    taskQueue: info.taskQueue,
    attempt: info.attempt,
  };
  return kept as WorkflowInfo; // what the exporter merges into the attributes, not a workflow's info
}

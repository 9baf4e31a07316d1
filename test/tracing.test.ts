/**
 * Opt-in OpenTelemetry tracing: a worker with an OTLP endpoint (a tiny OTLP/HTTP JSON receiver here), an approval
 * started by an ApprovalClient inside a span of this process' tracer, approved on the device. The approval's workflow
 * and activity spans arrive at the endpoint in the caller's trace, and no span holds a token, the auth_req_id, the
 * user or the binding message.
 */
import { newStartSeal } from '../client/approvals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { paymentAgent } from '../workflows/payment-agent';
import { isPending, waitForApprovalState } from './support/approvals';
import {
  agentQueues,
  Device,
  sharedStack,
  stackEnv,
  uniqueBindingMessage,
  uniqueTaskQueue,
  WITH_SAMPLE_AGENT,
} from './support/stack';
import { HANG_DETECTOR_MS, waitUntil } from './support/wait';
import { startWorkerWithClients, stopWorkerWithClients, type WorkerWithClients } from './support/worker-fixture';

jest.setTimeout(3 * HANG_DETECTOR_MS);

interface OtlpAttribute {
  key: string;
  value: Record<string, unknown>;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  name: string;
  attributes?: OtlpAttribute[];
}
interface OtlpExport {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: { spans?: OtlpSpan[] }[];
  }[];
}

const stack = sharedStack();
const device = new Device(stack.issuer);
const bodies: string[] = [];
let receiver: Server;
let fixture: WorkerWithClients;
const provider = new BasicTracerProvider();

beforeAll(async () => {
  // The collector: accepts OTLP/HTTP JSON exports and keeps their bodies.
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.url === '/v1/traces') bodies.push(Buffer.concat(chunks).toString('utf8'));
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  // The caller's tracing: the default propagators (W3C trace context, baggage), as in the worker.
  provider.register({
    contextManager: new AsyncLocalStorageContextManager().enable(),
  });
  fixture = await startWorkerWithClients(
    stackEnv(uniqueTaskQueue('tracing'), {
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      ...WITH_SAMPLE_AGENT,
    }),
    'worker-tracing',
  );
});
afterAll(async () => {
  if (fixture) await stopWorkerWithClients(fixture);
  await provider.shutdown();
  trace.disable();
  propagation.disable();
  context.disable();
  await new Promise((resolve) => receiver?.close(resolve));
});

/** Every span received so far, with its resource's attributes. */
function received(): { span: OtlpSpan; resource: OtlpAttribute[] }[] {
  return bodies.flatMap((body) =>
    ((JSON.parse(body) as OtlpExport).resourceSpans ?? []).flatMap((rs) =>
      (rs.scopeSpans ?? []).flatMap((ss) =>
        (ss.spans ?? []).map((span) => ({ span, resource: rs.resource?.attributes ?? [] })),
      ),
    ),
  );
}

/** The spans in `traceId` once every one of `names` is among them. */
function spansOfTrace(traceId: string, names: string[]) {
  return waitUntil(
    () => {
      const inTrace = received().filter(({ span }) => span.traceId === traceId);
      const seen = new Set(inTrace.map(({ span }) => span.name));
      return names.every((name) => seen.has(name)) && inTrace;
    },
    `spans ${names.join(', ')} in trace ${traceId}`,
  );
}

/** The attributes the SDK's spans carry (workflow and activity identifiers); nothing else may be added. */
const SPAN_ATTRIBUTE_KEYS = new Set([
  'workflowType',
  'workflowId',
  'runId',
  'namespace',
  'taskQueue',
  'attempt',
  'temporalWorkflowId',
  'temporalActivityId',
  // The per-user ask gate's update (its ID is the approval's run ID and ask number).
  'temporalUpdateId',
  'run_id',
]);

/** No secret in any span's or resource's attributes, nor anywhere in what was exported; only the SDK's attributes. */
function expectNothingSecret(secrets: string[]): void {
  const all = received();
  const keys = new Set(all.flatMap(({ span }) => (span.attributes ?? []).map((a) => a.key)));
  expect([...keys].filter((key) => !SPAN_ATTRIBUTE_KEYS.has(key))).toEqual([]);
  const attributes = JSON.stringify(all.map(({ span, resource }) => [span.attributes, resource]));
  for (const secret of secrets) {
    expect(attributes).not.toContain(secret);
    for (const body of bodies) expect(body).not.toContain(secret);
  }
}

it("continues the caller's trace into the approval's workflow and activities, without secrets in spans", async () => {
  const bindingMessage = uniqueBindingMessage('Tracing approve');
  const tracer = trace.getTracer('tracing-test');
  const { workflowId, traceId } = await tracer.startActiveSpan('agent-service', async (span) => {
    try {
      const started = await fixture.approvals.start({ loginHint: 'alice@example.com', bindingMessage });
      return { ...started, traceId: span.spanContext().traceId };
    } finally {
      span.end();
    }
  });
  const { authReqId } = await waitForApprovalState(fixture.temporal, workflowId, isPending);
  await device.decide(authReqId!, 'approve');
  const tokens = await fixture.approvals.result(workflowId);

  const expected = [
    'RunWorkflow:cibaApproval',
    'StartActivity:requestBackchannelAuthentication',
    'RunActivity:requestBackchannelAuthentication',
    'StartActivity:pollToken',
    'RunActivity:pollToken',
  ];
  const spans = await spansOfTrace(traceId, expected);

  expect(spans.length).toBeGreaterThanOrEqual(expected.length);
  const serviceNames = new Set(
    spans.flatMap(({ resource }) => resource.filter((a) => a.key === 'service.name').map((a) => a.value.stringValue)),
  );
  expect(serviceNames).toEqual(new Set(['ciba-worker']));

  expect(spans.find(({ span }) => span.name === 'RunWorkflow:cibaApproval')!.span.attributes).toContainEqual({
    key: 'workflowId',
    value: { stringValue: workflowId },
  });
  const secrets = [tokens.accessToken, authReqId!, 'alice@example.com', 'alice', bindingMessage];
  expectNothingSecret(tokens.idToken ? [...secrets, tokens.idToken] : secrets);
});

it("continues an agent workflow's trace into its child approval, by Temporal headers", async () => {
  const tracer = trace.getTracer('tracing-test');
  const agentId = `tracing-agent-${Date.now()}`;
  const approvalId = `${agentId}/approval/payment`;
  const { handle, traceId } = await tracer.startActiveSpan('start-agent', async (span) => {
    try {
      const started = await fixture.temporal.workflow.start(paymentAgent, {
        workflowId: agentId,
        taskQueue: agentQueues(fixture.env).taskQueue,
        args: [
          {
            approvalTaskQueue: agentQueues(fixture.env).approvalTaskQueue,
            loginHint: 'alice@example.com',
            payment: { amount: '5.00', currency: 'EUR', creditorName: 'Tracing' },
            seal: newStartSeal(agentId),
          },
        ],
      });
      return { handle: started, traceId: span.spanContext().traceId };
    } finally {
      span.end();
    }
  });
  const { authReqId, bindingMessage } = await waitForApprovalState(fixture.temporal, approvalId, isPending);
  await device.decide(authReqId!, 'approve');
  await handle.result();

  const spans = await spansOfTrace(traceId, [
    'RunWorkflow:paymentAgent',
    'StartChildWorkflow:cibaApproval',
    'RunWorkflow:cibaApproval',
    'RunActivity:pollToken',
  ]);
  const approvalRun = spans.find(({ span }) => span.name === 'RunWorkflow:cibaApproval')!.span;
  expect(approvalRun.attributes).toContainEqual({ key: 'workflowId', value: { stringValue: approvalId } });
  expectNothingSecret([authReqId!, 'alice@example.com', 'alice', bindingMessage]);
});

